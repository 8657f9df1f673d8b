"""Words/s of `spacy train` for NER with ELMo, with and without the segment cache.

    python bench/train_speed.py [--train corpus/conll/train.spacy] [--limit 0]
        [--epochs 3] [--size small] [--baseline]

Trains configs/ner.cfg (elmo + NER listening to it, frozen biLM) for
--epochs epochs on the CoNLL-2003 training set (written by the data step,
`scripts/conll2003.py`; --limit N takes its first N sentences) with a random-weight
biLM of a published size (--size; random weights run at the same speed as trained
ones), once with `cache_mb = 0` and once with the config's cache, each in a fresh
process, through the same code as `python -m spacy train` (init_nlp + spaCy's
training loop). A before_update callback timestamps every step; words/s per epoch
is the epoch's training words over the time from its first step to the next
epoch's (evaluation runs once, at step 0, on the first 200 dev sentences, inside
epoch 1). --baseline also times configs/ner_baseline.cfg (spaCy's CNN, no ELMo).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
STEPS: List[Dict[str, Any]] = []


def record_step(nlp: Any, args: Dict[str, Any]) -> None:
    """before_update callback: when each step starts, and in which epoch."""
    STEPS.append({"time": time.perf_counter(), "epoch": args["epoch"], "step": args["step"]})


def run_one(args: argparse.Namespace) -> None:
    """Train once in this process and print one JSON line of results."""
    import spacy
    import torch
    from spacy.tokens import DocBin
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as train_loop
    from spacy.util import load_config, registry

    from spacy_elmo.pipeline.bilm_shim import get_segment_cache

    torch.set_num_threads(args.threads)
    registry.callbacks.register("spacy-elmo-bench.record_step.v1", func=lambda: record_step)
    overrides: Dict[str, Any] = {
        "paths.train": args.train,
        "paths.dev": args.dev,
        "training.max_epochs": args.epochs,
        "training.max_steps": 0,
        "training.eval_frequency": 10**9,
        "training.patience": 0,
        "corpora.train.limit": args.limit,
        "corpora.dev.limit": 200,
    }
    if args.run != "ner_baseline":
        overrides["paths.elmo_weights"] = args.weights
        overrides["variables.elmo_width"] = args.width
        overrides["components.elmo.model.cache_mb"] = args.cache_mb
    config = load_config(ROOT / "configs" / f"{args.run.split(':')[0]}.cfg", overrides=overrides)
    config["training"]["before_update"] = {"@callbacks": "spacy-elmo-bench.record_step.v1"}
    nlp = init_nlp(config)
    docs = list(DocBin().from_disk(args.train).get_docs(spacy.blank("en").vocab))
    words = sum(len(doc) for doc in (docs[: args.limit] if args.limit else docs))
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train_loop(nlp, Path(out), stdout=open("/dev/null", "w"), stderr=sys.stderr)
        end = time.perf_counter()
    starts = {}
    for step in STEPS:
        starts.setdefault(step["epoch"], step["time"])
    epochs = sorted(starts)
    bounds = [starts[e] for e in epochs] + [end]
    rates = [words / (bounds[i + 1] - bounds[i]) for i in range(len(epochs))]
    result = {"run": args.run, "words": words, "seconds": end - start, "wps": rates}
    if "elmo" in nlp.pipe_names:
        cache = get_segment_cache(nlp.get_pipe("elmo").model)
        if cache is not None:
            result["cache"] = {
                "hits": cache.hits,
                "misses": cache.misses,
                "mib": cache.n_bytes / 2**20,
            }
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="corpus/conll/train.spacy")
    parser.add_argument("--dev", default="corpus/conll/dev.spacy")
    parser.add_argument("--limit", type=int, default=0, help="first N training sentences")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", default="small")
    parser.add_argument("--cache-mb", type=float, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one(args)
        return
    for path in (args.train, args.dev):
        if not Path(path).is_file():
            sys.exit(f"{path} not found: write it with `python -m scripts.conll2003`")

    import torch

    from spacy_elmo import ElmoBiLM, ElmoOptions, save_weights_files
    from spacy_elmo.bilm.options import PUBLISHED_OPTIONS

    options = ElmoOptions.from_dict(PUBLISHED_OPTIONS[args.size])
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / args.size
        save_weights_files(ElmoBiLM(options), weights)
        runs = [("ner:no-cache", 0.0), ("ner:cache", args.cache_mb)]
        if args.baseline:
            runs.append(("ner_baseline", 0.0))
        print(
            f"biLM: random weights, size {args.size} (width {options.output_dim}); "
            f"train {args.train} (limit {args.limit or 'none'}), {args.epochs} epochs, "
            f"{args.threads} torch threads"
        )
        print("| run | epoch | words/s |")
        print("|---|---|---|")
        for run, cache_mb in runs:
            cmd = [sys.executable, __file__, "--run", run, "--weights", str(weights)]
            cmd += ["--width", str(options.output_dim), "--cache-mb", str(cache_mb)]
            cmd += ["--train", args.train, "--dev", args.dev, "--limit", str(args.limit)]
            cmd += ["--epochs", str(args.epochs), "--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(proc.stdout + proc.stderr)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            for epoch, wps in enumerate(result["wps"], start=1):
                print(f"| {run} | {epoch} | {wps:,.0f} |", flush=True)
            if "cache" in result:
                c = result["cache"]
                print(
                    f"|   cache: {c['hits']:,} hits, {c['misses']:,} misses, "
                    f"{c['mib']:.0f} MiB | | |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
