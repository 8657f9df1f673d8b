"""Evaluate trained pipelines (one per seed) on a held-out test set.

    python -m scripts.evaluate ner training/ner_elmo corpus/conll/test.spacy \
        metrics/ner_elmo.json --name "ELMo + spaCy features"
    python -m scripts.evaluate textcat training/textcat_elmo corpus/polarity/test.spacy \
        metrics/textcat_elmo.json --name "ELMo + spaCy features"

Reads `TRAINING_DIR/seed<N>/model-best` (the model selected on the dev set by
`scripts/train.py`) for each of --seeds (default: every seed there), predicts the test
Docs' annotations from their words alone and scores them against the gold ones:

- ner: precision, recall and F1 overall and per entity type (exact span and label
  match, spaCy's `Scorer`, the CoNLL-2003 measure);
- textcat: accuracy (the highest-scoring label is the gold one) and macro-averaged F1
  over the labels (each label's F1 with that label as the positive class).

Writes a JSON file with each seed's scores, training wall time (from train.json),
prediction speed, and per metric the mean, the sample standard deviation and the
range over the seeds. For NER it also writes, next to it, OUTPUT's name with
`_sentences` added (`metrics/ner_elmo_sentences.json`, named under "sentences"): each
test sentence's gold entity count and, per seed, its predicted and correctly
predicted counts, which `scripts/compare.py`'s paired bootstrap resamples.
"""

import argparse
import json
import sys
from pathlib import Path

from scripts.device import use_device
from scripts.files import write_json
from scripts.scoring import evaluate_model, summarize, write_result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["ner", "textcat"])
    parser.add_argument("training_dir", type=Path, help="holds seed<N>/model-best")
    parser.add_argument("test", type=Path, help="test .spacy file")
    parser.add_argument("output", type=Path, help="JSON file to write")
    parser.add_argument("--name", default=None, help="row name in the report")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default: all)")
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads")
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU to predict on (-1: CPU)")
    args = parser.parse_args(argv)
    use_device(args.threads, args.gpu_id)
    if args.seeds is not None:
        seed_dirs = [args.training_dir / f"seed{int(s)}" for s in args.seeds.split(",") if s]
    else:
        seed_dirs = sorted(args.training_dir.glob("seed*"), key=lambda d: int(d.name[4:]))
    missing = [str(d) for d in seed_dirs if not (d / "model-best").exists()]
    if missing or not seed_dirs:
        print(f"ERROR: no model-best in {missing or args.training_dir}", file=sys.stderr)
        return 1
    runs, sentence_runs = [], []
    for d in seed_dirs:
        run = evaluate_model(args.task, d / "model-best", args.test)
        run["seed"] = int(d.name[4:])
        if args.task == "ner":
            counts = run.pop("per_sentence")
            gold_counts = counts["gold"]  # the same test Docs for every seed
            sentence_runs.append({"seed": run["seed"], "tp": counts["tp"], "pred": counts["pred"]})
        record = d / "train.json"
        if record.exists():
            train = json.loads(record.read_text(encoding="utf-8"))
            run["train_wall_seconds"] = train.get("wall_seconds")
            run["config"] = train.get("config")
            run["max_steps"] = train.get("overrides", {}).get("training.max_steps")
            run["overrides"] = train.get("overrides", {})
            run["dev_scores"] = train.get("dev_scores", {})
        runs.append(run)
        main_metric = "f" if args.task == "ner" else "accuracy"
        print(f"{d}: {main_metric} {run[main_metric]:.4f} on {run['n_docs']} test docs")

    metrics = ["p", "r", "f"] if args.task == "ner" else ["accuracy", "macro_f"]
    summary = {m: summarize([r[m] for r in runs]) for m in metrics}
    walls = [r["train_wall_seconds"] for r in runs if r.get("train_wall_seconds") is not None]
    if walls:
        summary["train_wall_seconds"] = summarize(walls)
    if args.task == "ner":
        types = sorted({t for r in runs for t in r["per_type"]})
        summary["per_type"] = {
            t: {m: summarize([r["per_type"].get(t, {}).get(m, 0.0) for r in runs]) for m in "prf"}
            for t in types
        }
    out = {
        "task": args.task,
        "name": args.name or args.training_dir.name,
        "training_dir": str(args.training_dir),
        "test": str(args.test),
        "summary": summary,
        "runs": runs,
    }
    if sentence_runs:
        sentences = args.output.with_name(f"{args.output.stem}_sentences.json")
        per_sentence = {"test": str(args.test), "gold": gold_counts, "runs": sentence_runs}
        write_json(sentences, per_sentence, indent=None)
        out["sentences"] = sentences.name
    write_result(args.output, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
