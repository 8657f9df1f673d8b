"""Train a spaCy config once per seed with `spacy train`, timing each run.

    python -m scripts.train CONFIG OUTPUT --seeds 0,1,2 --threads 2 --gpu-id -1 \
        --paths.train corpus/conll/train.spacy --paths.dev corpus/conll/dev.spacy \
        --training.max_steps 3000 [any other spaCy config override]

Each seed is an ordinary `spacy train CONFIG --output OUTPUT/seed<N> --system.seed N
...` (run in this process, so the imports are paid once). `OUTPUT/seed<N>/model-best` is
the model selected on the dev set; `OUTPUT/seed<N>/train.json` records the config, the
overrides, the wall time, the CPU threads and the best dev scores. A seed whose
train.json exists with the same config, overrides and input files (size and
modification time) is skipped, so an interrupted run continues with the next seed (a
seed cut off in the middle is trained again from its start: `spacy train` does not
resume), and a changed biLM under the same path is trained with again.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List


def parse_overrides(args: List[str]) -> Dict[str, Any]:
    """`--section.key value` pairs -> spaCy's override dict (values parsed as JSON
    where they can be, like spaCy's CLI)."""
    from spacy.cli._util import parse_config_overrides

    return parse_config_overrides(args)


def fingerprint(config: Path, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Size and modification time of the config and of every file an override names
    (for a directory such as a biLM: its options.json and weights.hdf5, else its
    files), so that a seed is retrained when its inputs change under the same names."""
    paths = [config] + [Path(v) for v in overrides.values() if isinstance(v, str) and v]
    stamps: Dict[str, Any] = {}
    for path in paths:
        if path.is_dir():
            named = [path / "options.json", path / "weights.hdf5"]
            files = [f for f in named if f.exists()] or sorted(
                f for f in path.iterdir() if f.is_file()
            )
        else:
            files = [path] if path.is_file() else []
        for f in files:
            st = f.stat()
            stamps[str(f)] = [st.st_size, st.st_mtime_ns]
    return stamps


def best_scores(model_dir: Path) -> Dict[str, Any]:
    meta_path = model_dir / "meta.json"
    if not meta_path.exists():
        return {}
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    perf = meta.get("performance", {})
    return {k: v for k, v in perf.items() if isinstance(v, (int, float))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Other --section.key value options are spaCy config overrides.",
    )
    parser.add_argument("config", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, one run each")
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads (0: default)")
    parser.add_argument("--gpu-id", type=int, default=-1)
    args, rest = parser.parse_known_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    overrides = parse_overrides(rest)

    if args.threads > 0:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        import torch

        torch.set_num_threads(args.threads)
    from spacy.cli.train import train as spacy_train

    from spacy_elmo.io.atomic import atomic_path

    args.output.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        out = args.output / f"seed{seed}"
        record_path = out / "train.json"
        run_overrides = {**overrides, "system.seed": seed}
        record = {
            "config": str(args.config),
            "overrides": run_overrides,
            "seed": seed,
            "threads": args.threads,
            "gpu_id": args.gpu_id,
            "inputs": fingerprint(args.config, run_overrides),
        }
        if record_path.exists():
            old = json.loads(record_path.read_text(encoding="utf-8"))
            if all(old.get(k) == v for k, v in record.items()) and (out / "model-best").exists():
                print(f"[train.py] {out}: already trained (delete train.json to retrain)")
                continue
        print(f"[train.py] {args.config} seed {seed} -> {out}", flush=True)
        start = time.perf_counter()
        spacy_train(args.config, out, use_gpu=args.gpu_id, overrides=run_overrides)
        record["wall_seconds"] = round(time.perf_counter() - start, 1)
        record["dev_scores"] = best_scores(out / "model-best")
        with atomic_path(record_path) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"[train.py] seed {seed}: {record['wall_seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
