"""Pretraining speed on CPU: training tokens/s per preset and softmax, and the share
of the machine's measured float32 matmul rate that it reaches.

    python bench/pretrain_speed.py [--presets cpu small] [--softmax adaptive sampled]

Text: CPython's docstrings (bench/text.py), tokenised as `pretrain` does. Each run is
a fresh process: a few warm-up steps, then `--steps` timed optimiser steps of the
recipe's batch (128 rows x 20 steps, both directions). A token is one position of
the stream, read by both directions. Training FLOPs are counted as 3x the forward's:
the char CNN for every token (the model computes it once per distinct token in a
window, so it can beat this count), both LSTM stacks, and the output layer (its
expected cost per position for the adaptive softmax, n_samples + 1 rows for the
sampled one).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bilm_speed import flops_per_token, matmul_gflops  # noqa: E402
from bench.text import docstring_paragraphs  # noqa: E402
from spacy_elmo.bilm.options import make_options  # noqa: E402
from spacy_elmo.pretrain.config import load_config  # noqa: E402
from spacy_elmo.pretrain.corpus import sentence_pipeline, tokenize_files  # noqa: E402
from spacy_elmo.pretrain.optim import make_optimizer  # noqa: E402
from spacy_elmo.pretrain.trainer import (  # noqa: E402
    build_model,
    train_step,
    training_batcher,
)
from spacy_elmo.pretrain.vocab import Vocabulary  # noqa: E402


def softmax_flops(
    kind: str, config: Dict[str, Any], vocab: Vocabulary, counts: np.ndarray
) -> float:
    """Forward FLOPs of the output layer per position (one direction)."""
    p = config["model"]["projection_dim"]
    n = len(vocab)
    if kind == "full":
        return 2.0 * p * n
    if kind == "sampled":
        return 2.0 * p * (min(config["softmax"]["n_samples"], n) + 1)
    cutoffs = [c for c in config["softmax"]["cutoffs"] if c < n - 1] + [n]
    share = counts / counts.sum()
    flops = 2.0 * p * (cutoffs[0] + len(cutoffs) - 1)
    for i in range(len(cutoffs) - 1):
        width = max(1, int(p // config["softmax"]["div_value"] ** (i + 1)))
        in_cluster = share[cutoffs[i] : cutoffs[i + 1]].sum()
        flops += in_cluster * (2.0 * p * width + 2.0 * width * (cutoffs[i + 1] - cutoffs[i]))
    return flops


def worker(preset: str, kind: str, steps: int, text_dir: Path) -> Dict[str, Any]:
    torch.manual_seed(0)
    config = load_config(None, preset, {"softmax.kind": kind})
    text = tokenize_files([text_dir / "docs.txt"], sentence_pipeline("blank:en"))
    vocab = Vocabulary.build(text, min_count=1, max_size=100_000)
    training = config["training"]
    batcher = training_batcher(text, vocab, config)
    model = build_model(config, vocab, lambda _: None)
    optimizer = make_optimizer(model, training)
    state = None
    timed = 0.0
    for step in range(steps + 3):
        window = batcher.window(0, step % batcher.windows_per_epoch)
        start = time.perf_counter()
        state = train_step(model, optimizer, window, state, training).state
        if step >= 3:
            timed += time.perf_counter() - start
    counts = np.zeros(len(vocab))
    np.add.at(counts, vocab.lookup(text.types), text.counts())
    per_token = 3 * (
        flops_per_token(make_options(**config["model"]))
        + 2 * softmax_flops(kind, config, vocab, counts)
    )
    tokens = steps * batcher.tokens_per_window
    return {
        "preset": preset,
        "softmax": kind,
        "tokens_per_second": tokens / timed,
        "train_gflop_per_token": per_token / 1e9,
        "gflops": tokens / timed * per_token / 1e9,
        "vocab": len(vocab),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["cpu", "small"])
    parser.add_argument("--softmax", nargs="+", default=["adaptive", "sampled"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--text-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(
            json.dumps(worker(args.worker[0], args.worker[1], int(args.worker[2]), args.text_dir))
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "docs.txt").write_text("\n".join(docstring_paragraphs()) + "\n", encoding="utf8")
        rate = matmul_gflops()
        print(f"float32 matmul (2048^3): {rate:.1f} GFLOP/s, {torch.get_num_threads()} threads")
        header = ("preset", "softmax", "vocab", "tok/s", "GFLOP/tok", "GFLOP/s", "share")
        print("{:8} {:9} {:>7} {:>8} {:>10} {:>8} {}".format(*header))
        for preset in args.presets:
            for kind in args.softmax:
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    preset,
                    kind,
                    str(args.steps),
                    "--text-dir",
                    tmp,
                ]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                print(
                    f"{preset:8} {kind:9} {r['vocab']:>7,} {r['tokens_per_second']:>8,.0f} "
                    f"{r['train_gflop_per_token']:>10.4f} {r['gflops']:>8.1f} "
                    f"{100 * r['gflops'] / rate:.0f}%",
                    flush=True,
                )


if __name__ == "__main__":
    main()
