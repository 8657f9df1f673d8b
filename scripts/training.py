"""Training a spaCy config once per seed, each run timed and recorded in its train.json,
so that a finished seed is skipped and a seed whose inputs changed is trained again.
The train and cross_validate steps train through this module.
"""

import json
import time
from pathlib import Path
from typing import Any, Dict, List

from scripts.files import write_json


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
    """The dev scores of a trained pipeline, from its meta.json."""
    meta_path = model_dir / "meta.json"
    if not meta_path.exists():
        return {}
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    perf = meta.get("performance", {})
    return {k: v for k, v in perf.items() if isinstance(v, (int, float))}


def train_seeds(
    config: Path,
    output: Path,
    seeds: List[int],
    overrides: Dict[str, Any],
    threads: int = 0,
    gpu_id: int = -1,
) -> None:
    """`spacy train` once per seed into OUTPUT/seed<N>, recording each run in its
    train.json; a seed already trained with the same settings and inputs is skipped.

    config (Path): the spaCy config.
    output (Path): the folder of the seeds' runs.
    seeds (List[int]): the seeds, one run each.
    overrides (Dict[str, Any]): spaCy config overrides (`system.seed` is set per run).
    threads (int): the PyTorch CPU threads the runs use (recorded; 0: default).
    gpu_id (int): the GPU to train on (-1: CPU).
    """
    from spacy.cli.train import train as spacy_train

    output.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        out = output / f"seed{seed}"
        record_path = out / "train.json"
        run_overrides = {**overrides, "system.seed": seed}
        record = {
            "config": str(config),
            "overrides": run_overrides,
            "seed": seed,
            "threads": threads,
            "gpu_id": gpu_id,
            "inputs": fingerprint(config, run_overrides),
        }
        if record_path.exists():
            old = json.loads(record_path.read_text(encoding="utf-8"))
            if all(old.get(k) == v for k, v in record.items()) and (out / "model-best").exists():
                print(f"[train.py] {out}: already trained (delete train.json to retrain)")
                continue
        print(f"[train.py] {config} seed {seed} -> {out}", flush=True)
        start = time.perf_counter()
        spacy_train(config, out, use_gpu=gpu_id, overrides=run_overrides)
        record["wall_seconds"] = round(time.perf_counter() - start, 1)
        record["dev_scores"] = best_scores(out / "model-best")
        write_json(record_path, record)
        print(f"[train.py] seed {seed}: {record['wall_seconds']:.0f} s", flush=True)
