"""K-fold cross-validation of a text classification config: train once per fold,
score each fold's held-out texts.

    python -m scripts.cross_validate CONFIG OUTPUT METRICS --data corpus/polarity \
        --name baseline --folds 10 --threads 2 --gpu-id -1 --training.max_steps 2000 \
        [any other spaCy config override]

The Docs of DATA/{train,dev,test}.spacy are split as scripts/folds.py splits them
(seeded, stratified), so every config compared with the same data, folds and seed sees
the same folds (the differences are then paired by fold). Fold k is scored on its
texts (test), chooses its model on fold k+1 (dev) and trains on the other K-2 folds.
The folds are read from --folds-dir (written there first if missing; default
OUTPUT/folds); each fold's training is an ordinary `spacy train` (scripts/training.py's
runner, so an interrupted run continues with the fold it stopped in) into
OUTPUT/fold<k>/seed<S>.
METRICS gets every fold's scores and their summary; with --only, the other folds'
scores already in METRICS (same config, folds and seeds) are kept.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

from scripts.device import use_device
from scripts.folds import write_folds
from scripts.scoring import evaluate_model, summarize, write_result
from scripts.training import parse_overrides, train_seeds


def kept_runs(metrics: Path, args: argparse.Namespace, chosen) -> List[Dict]:
    """The runs of other folds already in METRICS from the same split and config, so
    that --only runs (e.g. with other overrides per group of folds) add up to one file."""
    if not metrics.exists():
        return []
    old = json.loads(metrics.read_text(encoding="utf-8"))
    same = (old.get("folds"), old.get("fold_seed"), old.get("seed"), old.get("config"))
    if same != (args.folds, args.fold_seed, args.seed, str(args.config)):
        return []
    return [run for run in old.get("runs", []) if run["fold"] not in set(chosen)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Other --section.key value options are spaCy config overrides.",
    )
    parser.add_argument("config", type=Path)
    parser.add_argument("output", type=Path, help="folder for the folds' models")
    parser.add_argument("metrics", type=Path, help="JSON file of the folds' scores")
    parser.add_argument("--data", type=Path, required=True, help="folder with the .spacy splits")
    parser.add_argument("--name", default=None, help="row name in reports")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--fold-seed", type=int, default=0, help="seed of the fold split")
    parser.add_argument(
        "--folds-dir", type=Path, default=None, help="where the folds are (default OUTPUT/folds)"
    )
    parser.add_argument("--only", default=None, help="comma-separated folds to run (default all)")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--gpu-id", type=int, default=-1)
    args, rest = parser.parse_known_args(argv)
    folds_dir = args.folds_dir or args.output / "folds"
    fold_dirs = write_folds(args.data, folds_dir, args.folds, args.fold_seed)
    chosen = range(args.folds) if args.only is None else [int(f) for f in args.only.split(",")]
    use_device(args.threads)
    overrides = parse_overrides(rest)
    runs = []
    for f in chosen:
        fold_data = {
            "paths.train": str(fold_dirs[f] / "train.spacy"),
            "paths.dev": str(fold_dirs[f] / "dev.spacy"),
        }
        fold_output = args.output / f"fold{f}"
        fold_overrides = {**fold_data, **overrides}
        train_seeds(
            args.config, fold_output, [args.seed], fold_overrides, args.threads, args.gpu_id
        )
        run_dir = fold_output / f"seed{args.seed}"
        scores = evaluate_model("textcat", run_dir / "model-best", fold_dirs[f] / "test.spacy")
        record = json.loads((run_dir / "train.json").read_text(encoding="utf-8"))
        scores.update(
            fold=f,
            train_wall_seconds=record.get("wall_seconds"),
            config=record.get("config"),
            overrides=record.get("overrides", {}),
            max_steps=record.get("overrides", {}).get("training.max_steps"),
        )
        runs.append(scores)
        print(f"[cross_validate.py] fold {f}: accuracy {scores['accuracy']:.4f}", flush=True)
    runs = kept_runs(args.metrics, args, chosen) + runs
    runs.sort(key=lambda run: run["fold"])
    summary = {m: summarize([run[m] for run in runs]) for m in ("accuracy", "macro_f")}
    summary["train_wall_seconds"] = summarize([run["train_wall_seconds"] for run in runs])
    write_result(
        args.metrics,
        {
            "task": "textcat",
            "name": args.name or args.config.stem,
            "config": str(args.config),
            "test": f"{args.folds}-fold cross-validation of {args.data}",
            "folds": args.folds,
            "fold_seed": args.fold_seed,
            "seed": args.seed,
            "summary": summary,
            "runs": runs,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
