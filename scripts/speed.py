"""Measure each final model's speed alone: training words/s and `nlp.pipe` words/s.

    python -m scripts.speed metrics/speed.json --threads 2 --train-steps 300 \
        --run ner baseline training/ner_baseline/seed0 corpus/conll/test.spacy \
        --run ner ELMo training/ner_elmo/seed0 corpus/conll/test.spacy

Each --run TASK NAME RUN_DIR TEST names a run trained by scripts/train.py (RUN_DIR holds
train.json and model-best) and a .spacy file to predict. Run it with nothing else on
the machine; the runs are measured one after another, on --threads CPU threads:

- training: the run's config with the run's own overrides (data, biLM, seed), trained
  from a fresh initialisation for --train-steps steps with spaCy's training loop and the
  config's batcher, without evaluation and without saving. Words/s counts the training
  words of the steps after the first --warmup steps (which pay for lazy initialisation).
- prediction: `nlp.pipe` over the TEST Docs rebuilt from their words, the best of
  --repeats passes.

The full runs' wall times stay in each run's train.json (they may have shared the
machine); this file holds the figures measured alone.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from scripts.device import use_device
from scripts.scoring import words_only, write_result


def training_speed(record: Dict[str, Any], steps: int, warmup: int) -> Dict[str, Any]:
    """Train the run's config for `steps` steps; words/s after `warmup` steps."""
    from spacy.schemas import ConfigSchemaTraining
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import create_train_batches, train_while_improving
    from spacy.util import fix_random_seed, load_config, registry, resolve_dot_names

    if steps <= warmup:
        raise ValueError(f"--train-steps ({steps}) must exceed --warmup ({warmup})")
    overrides = dict(record["overrides"])
    overrides["training.max_steps"] = steps
    config = load_config(Path(record["config"]), overrides=overrides, interpolate=False)
    start = time.perf_counter()
    nlp = init_nlp(config, use_gpu=-1)
    init_seconds = time.perf_counter() - start
    config = nlp.config.interpolate()
    fix_random_seed(config["training"]["seed"])
    T = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    (train_corpus,) = resolve_dot_names(config, [T["train_corpus"]])
    steps_iter = train_while_improving(
        nlp,
        T["optimizer"],
        create_train_batches(nlp, train_corpus, T["batcher"], T["max_epochs"]),
        lambda: (0.0, {}),  # no dev evaluation: only the updates are timed
        dropout=T["dropout"],
        accumulate_gradient=T["accumulate_gradient"],
        patience=0,
        max_steps=steps,
        eval_frequency=steps + 1,
        exclude=T["frozen_components"],
        annotating_components=T["annotating_components"],
        before_update=None,
    )
    words = 0
    timed_from = time.perf_counter()
    for batch, info, _ in steps_iter:
        if info["step"] == warmup:
            timed_from = time.perf_counter()
        elif info["step"] > warmup:
            words += sum(len(eg) for eg in batch)
    seconds = time.perf_counter() - timed_from
    return {
        "init_seconds": round(init_seconds, 1),
        "train_steps": steps - warmup,
        "train_words": words,
        "train_seconds": round(seconds, 1),
        "train_words_per_second": round(words / seconds) if seconds else None,
    }


def prediction_speed(model_dir: Path, test_path: Path, repeats: int) -> Dict[str, Any]:
    """Best-of-`repeats` `nlp.pipe` words/s over the test Docs' words."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.load(model_dir)
    gold = list(DocBin().from_disk(test_path).get_docs(nlp.vocab))
    n_words = sum(len(d) for d in gold)
    best = float("inf")
    for _ in range(repeats):
        inputs = words_only(nlp.vocab, gold)
        start = time.perf_counter()
        for _doc in nlp.pipe(inputs, batch_size=256):
            pass
        best = min(best, time.perf_counter() - start)
    return {
        "test_words": n_words,
        "pipe_seconds": round(best, 2),
        "pipe_words_per_second": round(n_words / best) if best else None,
    }


def check_run(task: str, name: str, run_dir: Path, test: Path) -> Dict[str, Any]:
    """The run's train.json, after checking every file the measurement reads."""
    record_path = run_dir / "train.json"
    if task not in ("ner", "textcat"):
        raise SystemExit(f"ERROR: --run {name}: task must be ner or textcat, not {task!r}")
    for path in (record_path, run_dir / "model-best", test):
        if not path.exists():
            raise SystemExit(
                f"ERROR: --run {name}: {path} not found (train the run with scripts/train.py first)"
            )
    return json.loads(record_path.read_text(encoding="utf-8"))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="JSON file to write")
    parser.add_argument(
        "--run",
        nargs=4,
        action="append",
        required=True,
        metavar=("TASK", "NAME", "RUN_DIR", "TEST"),
        help="a run to measure (repeat the option for several)",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for every run")
    parser.add_argument("--train-steps", type=int, default=300, help="training steps to run")
    parser.add_argument("--warmup", type=int, default=20, help="first steps left out of the timing")
    parser.add_argument("--repeats", type=int, default=2, help="nlp.pipe passes (best is kept)")
    args = parser.parse_args(argv)
    runs = [(t, n, Path(d), Path(f), check_run(t, n, Path(d), Path(f))) for t, n, d, f in args.run]
    use_device(args.threads)
    results = []
    for task, name, run_dir, test, record in runs:
        print(f"[speed] {task} {name}: {run_dir} ({record['config']})", flush=True)
        row: Dict[str, Any] = {"task": task, "name": name, "run": str(run_dir)}
        row["config"] = record["config"]
        row.update(training_speed(record, args.train_steps, args.warmup))
        row.update(prediction_speed(run_dir / "model-best", test, args.repeats))
        print(
            f"[speed] {name}: train {row['train_words_per_second']:,} words/s, "
            f"nlp.pipe {row['pipe_words_per_second']:,} words/s",
            flush=True,
        )
        results.append(row)
    write_result(args.output, {"threads": args.threads, "runs": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
