"""Which output layer trains the biLM faster to the same perplexity on CPU?

    python bench/softmax_compare.py --train TRAIN.txt --heldout HELDOUT.txt

Trains the `cpu` preset from the same seed with each softmax (`adaptive`, `sampled`)
for `--steps` steps on the first `--max-lines` lines of the text, evaluating the
exact held-out perplexity every `--eval-every` steps. Time is the process's CPU
time (less disturbed by other jobs on a shared machine than wall time). It prints
the curves and, for the worst perplexity that every run reached, the CPU time each
one needed to reach it.
"""

import argparse
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch

from spacy_elmo.pretrain.config import load_config
from spacy_elmo.pretrain.corpus import sentence_pipeline, tokenize_files
from spacy_elmo.pretrain.optim import make_optimizer  # noqa: E402
from spacy_elmo.pretrain.trainer import (
    build_model,
    evaluate,
    heldout_batcher,
    train_step,
    training_batcher,
)
from spacy_elmo.pretrain.vocab import Vocabulary

Curve = List[Tuple[int, float, float]]  # (step, CPU seconds, held-out average perplexity)


def head(path: Path, n: int, directory: Path) -> Path:
    out = directory / path.name
    with path.open(encoding="utf8") as f, out.open("w", encoding="utf8") as w:
        for i, line in enumerate(f):
            if i >= n:
                break
            w.write(line)
    return out


def train_curve(kind: str, args: argparse.Namespace, train: Path, heldout: Path) -> Curve:
    torch.manual_seed(0)
    config = load_config(None, "cpu", {"softmax.kind": kind, "training.max_eval_tokens": 20000})
    nlp = sentence_pipeline("blank:en")
    text, held = tokenize_files([train], nlp), tokenize_files([heldout], nlp)
    vocab = Vocabulary.build(text, min_count=3, max_size=100_000)
    training = config["training"]
    batcher = training_batcher(text, vocab, config)
    evaluator = heldout_batcher(held, vocab, config)
    assert evaluator is not None
    model = build_model(config, vocab, lambda _: None)
    optimizer = make_optimizer(model, training)
    model.train()
    curve: Curve = []
    cpu = 0.0
    state = None
    for step in range(1, args.steps + 1):
        epoch, index = divmod(step - 1, batcher.windows_per_epoch)
        start = time.process_time()
        window = batcher.window(epoch, index)
        state = train_step(model, optimizer, window, None if index == 0 else state, training).state
        cpu += time.process_time() - start
        if step % args.eval_every == 0:
            ppl = evaluate(model, evaluator)["average"]
            curve.append((step, cpu, ppl))
            print(
                f"  {kind:9} step {step:5}  CPU {cpu:7.1f} s  held-out ppl {ppl:8.1f}", flush=True
            )
    return curve


def cpu_to_reach(curve: Curve, target: float) -> float:
    for _, cpu, ppl in curve:
        if ppl <= target:
            return cpu
    return float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--heldout", type=Path, required=True)
    parser.add_argument("--kinds", nargs="+", default=["adaptive", "sampled"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--max-lines", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    curves: Dict[str, Curve] = {}
    with tempfile.TemporaryDirectory() as tmp:
        train = head(args.train, args.max_lines, Path(tmp))
        for kind in args.kinds:
            curves[kind] = train_curve(kind, args, train, args.heldout)
    target = max(min(ppl for _, _, ppl in curve) for curve in curves.values())
    print(f"CPU time to reach held-out perplexity {target:.1f} ({args.threads} thread(s)):")
    for kind, curve in curves.items():
        per_step = curve[-1][1] / curve[-1][0]
        print(f"  {kind:9} {cpu_to_reach(curve, target):7.1f} s  ({per_step:.2f} CPU s/step)")


if __name__ == "__main__":
    main()
