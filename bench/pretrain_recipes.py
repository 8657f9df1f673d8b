"""Pretraining recipes at equal wall-clock time: held-out perplexity against minutes.

    python bench/pretrain_recipes.py --train corpus/release/train.txt \\
        --heldout corpus/release/heldout.txt [--variants cpu adam ...] [--threads 2]

Every variant trains on the same text, with the same vocabulary (built once from the
training text with the `pretrain` defaults) and seed, in a fresh process, for its
budget of training minutes. Every `--eval-minutes` of training it is scored on the
whole held-out text exactly as the `perplexity` command scores it (64 rows x 20
steps, LSTM state carried, no dropout); the clock stops while it is scored. Run it
on quiet cores: the figure of merit is the perplexity reached in a fixed time.

Results go to `--out` (one JSON per variant, so a killed run resumes with the
variants it had not finished), a table is printed, and `--plot` draws perplexity
against minutes. The budget B is `--budget` minutes; the recipe of the cpu preset
(bilm-tf's Adagrad at 0.2) runs for B, the others for B/2 unless they say otherwise.
"""

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spacy_elmo.pretrain.batches import StreamBatcher  # noqa: E402
from spacy_elmo.pretrain.config import load_config  # noqa: E402
from spacy_elmo.pretrain.corpus import (  # noqa: E402
    TokenizedText,
    sentence_pipeline,
    tokenize_files,
)
from spacy_elmo.pretrain.optim import (  # noqa: E402
    learn_rate,
    make_optimizer,
    set_learn_rate,
)
from spacy_elmo.pretrain.trainer import (  # noqa: E402
    build_model,
    evaluate,
    train_step,
    training_batcher,
)
from spacy_elmo.pretrain.vocab import Vocabulary  # noqa: E402

ADAM = {
    "training.optimizer": "adam",
    "training.learn_rate": 0.002,
    "training.warmup_steps": 200,
    "training.lr_decay": "linear",
}
# name -> (share of the budget, config overrides over the cpu preset)
VARIANTS: Dict[str, Any] = {
    "cpu": (1.0, {}),
    "cpu-b64": (0.5, {"training.batch_size": 64}),
    "cpu-lstm1024": (0.5, {"model.dim": 1024}),
    "adagrad-0.4": (0.5, {"training.learn_rate": 0.4}),
    "adagrad-0.4-b64": (0.5, {"training.learn_rate": 0.4, "training.batch_size": 64}),
    "adagrad-0.4-lstm1024": (0.5, {"training.learn_rate": 0.4, "model.dim": 1024}),
    "adagrad-0.4-lstm256": (0.5, {"training.learn_rate": 0.4, "model.dim": 256}),
    "adam": (0.5, ADAM),
    "adam-lr1e-3": (0.5, {**ADAM, "training.learn_rate": 0.001}),
    "adamw-wd0.1": (0.5, {**ADAM, "training.optimizer": "adamw", "training.weight_decay": 0.1}),
    "adam-b64": (0.5, {**ADAM, "training.batch_size": 64}),
    "adam-b64-u10": (0.5, {**ADAM, "training.batch_size": 64, "training.unroll_steps": 10}),
    "adam-lstm1024": (0.5, {**ADAM, "model.dim": 1024}),
    "adam-lstm256": (0.5, {**ADAM, "model.dim": 256}),
    "adam-cnn-small": (
        0.5,
        {**ADAM, "model.filters": [[1, 32], [2, 32], [3, 64], [4, 64]], "model.n_highway": 0},
    ),
}
EVAL_ROWS, EVAL_STEPS = 64, 20  # the `perplexity` command's defaults


def prepare(train: Path, heldout: Path, work: Path) -> None:
    """Tokenise both texts and build the vocabulary once, into `work`."""
    for name, path in (("train", train), ("heldout", heldout)):
        where = work / "corpus" / name
        if not (where / "READY").exists():
            print(f"Tokenising {path}", flush=True)
            tokenize_files([path], sentence_pipeline("blank:en")).to_disk(where)
            (where / "READY").touch()
    if not (work / "vocab.txt").exists():
        vocab = load_config(None, "cpu")["vocab"]
        text = TokenizedText.from_disk(work / "corpus" / "train")
        built = Vocabulary.build(text, min_count=vocab["min_count"], max_size=vocab["max_size"])
        built.to_disk(work / "vocab.txt")


def run_variant(name: str, minutes: float, eval_minutes: float, work: Path, seed: int) -> dict:
    """Train one variant for `minutes` of training time, scoring it on the way."""
    share, overrides = VARIANTS[name]
    config = load_config(
        None, "cpu", {**overrides, "system.seed": seed, "training.max_minutes": minutes}
    )
    torch.manual_seed(seed)
    training = config["training"]
    vocab = Vocabulary.from_disk(work / "vocab.txt")
    train = TokenizedText.from_disk(work / "corpus" / "train")
    heldout = TokenizedText.from_disk(work / "corpus" / "heldout")
    batcher = training_batcher(train, vocab, config)
    scorer = StreamBatcher(
        heldout,
        vocab,
        batch_size=EVAL_ROWS,
        unroll_steps=EVAL_STEPS,
        max_chars=config["model"]["max_characters_per_token"],
    )
    model = build_model(config, vocab, lambda _: None)
    optimizer = make_optimizer(model, training)
    n_params = sum(p.numel() for p in model.bilm.parameters())
    budget = minutes * 60.0
    points: List[Dict[str, float]] = []
    state = None
    step = 0
    trained = 0.0  # seconds of training, the clock stopped while scoring
    next_eval = eval_minutes * 60.0
    losses: List[float] = []  # training losses since the last score
    model.train()
    while True:
        epoch, index = divmod(step, batcher.windows_per_epoch)
        if index == 0:
            state = None
        set_learn_rate(optimizer, learn_rate(training, step, trained / budget))
        start = time.perf_counter()
        result = train_step(model, optimizer, batcher.window(epoch, index), state, training)
        trained += time.perf_counter() - start
        state = result.state
        losses.append(result.loss.item())
        step += 1
        if trained >= next_eval or trained >= budget:
            ppl = evaluate(model, scorer)
            model.train()
            point = {
                "minutes": trained / 60.0,
                "step": step,
                "tokens": step * batcher.tokens_per_window,
                "perplexity": ppl["average"],
                "forward": ppl["forward"],
                "backward": ppl["backward"],
                # with dropout, over the windows since the last score
                "train_perplexity": math.exp(sum(losses) / len(losses)),
            }
            losses = []
            points.append(point)
            print(
                f"[{name}] {point['minutes']:5.1f} min  step {step:,}  "
                f"held-out ppl {ppl['average']:.1f}  training ppl {point['train_perplexity']:.1f}",
                flush=True,
            )
            next_eval += eval_minutes * 60.0
        if trained >= budget:
            break
    return {
        "variant": name,
        "overrides": overrides,
        "minutes": minutes,
        "threads": torch.get_num_threads(),
        "bilm_parameters": n_params,
        "heldout_tokens": int(ppl["tokens"]),
        "vocab": len(vocab),
        "points": points,
    }


def perplexity_at(result: dict, minutes: float) -> Optional[float]:
    """Held-out perplexity at `minutes`, interpolated in log space between scores."""
    points = [(0.0, math.inf)] + [(p["minutes"], p["perplexity"]) for p in result["points"]]
    for (m0, p0), (m1, p1) in zip(points, points[1:]):
        if m0 <= minutes <= m1 + 1e-6:
            if math.isinf(p0):
                return p1 if minutes >= m1 - 1e-6 else None
            t = (minutes - m0) / (m1 - m0)
            return math.exp((1 - t) * math.log(p0) + t * math.log(p1))
    return None


def minutes_to_reach(result: dict, target: float) -> Optional[float]:
    """The first training minute at which the variant scores `target` or better."""
    previous = None
    for p in result["points"]:
        if p["perplexity"] <= target:
            if previous is None:
                return p["minutes"]
            (m0, p0), (m1, p1) = previous, (p["minutes"], p["perplexity"])
            t = (math.log(p0) - math.log(target)) / (math.log(p0) - math.log(p1))
            return m0 + t * (m1 - m0)
        previous = (p["minutes"], p["perplexity"])
    return None


def report(results: List[dict], budget: float) -> None:
    """Print the table: perplexity at B/2 and B, and time to the cpu recipe's B score."""
    base = next((r for r in results if r["variant"] == "cpu"), None)
    target = perplexity_at(base, budget) if base else None
    if target:
        print(f"\nthe cpu recipe's held-out perplexity at B = {budget:g} min: {target:.1f}")
    print(f"{'variant':16} {'params':>7} {'steps':>7} {'B/2':>7} {'B':>7} {'to cpu@B':>9}")
    for r in results:
        at_half = perplexity_at(r, budget / 2)
        at_full = perplexity_at(r, budget)
        reach = minutes_to_reach(r, target) if target else None
        print(
            f"{r['variant']:16} {r['bilm_parameters'] / 1e6:6.1f}M {r['points'][-1]['step']:>7,} "
            f"{_fmt(at_half):>7} {_fmt(at_full):>7} "
            f"{'-' if reach is None else f'{reach:.1f} min':>9}"
        )


def plot(results: List[dict], path: Path) -> None:
    """Held-out perplexity against training minutes, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        xs = [p["minutes"] for p in r["points"]]
        ys = [p["perplexity"] for p in r["points"]]
        ax.plot(xs, ys, marker="o", markersize=3, label=r["variant"])
    ax.set_xlabel("training minutes (2 CPU threads)")
    ax.set_ylabel("held-out perplexity")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=Path("corpus/release/train.txt"))
    parser.add_argument("--heldout", type=Path, default=Path("corpus/release/heldout.txt"))
    parser.add_argument("--work-dir", type=Path, default=Path("training/recipes"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/pretrain_recipes"))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--budget", type=float, default=30.0, help="B, in training minutes")
    parser.add_argument("--eval-minutes", type=float, default=2.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, help="write the curves to this PNG")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        share = VARIANTS[args.worker][0]
        result = run_variant(
            args.worker, args.budget * share, args.eval_minutes, args.work_dir, args.seed
        )
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = args.out / f".{args.worker}.json.tmp"
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
        tmp.replace(args.out / f"{args.worker}.json")
        return
    for path in (args.train, args.heldout):
        if not path.is_file():
            sys.exit(f"Error: text file not found: {path} (run `spacy project run corpus-release`)")
    prepare(args.train, args.heldout, args.work_dir)
    for name in args.variants:
        if (args.out / f"{name}.json").exists():
            print(f"[{name}] done before: {args.out / name}.json", flush=True)
            continue
        cmd = [sys.executable, __file__, "--worker", name] + _passed_on(args)
        subprocess.run(cmd, check=True)
    results = [
        json.loads((args.out / f"{n}.json").read_text())
        for n in args.variants
        if (args.out / f"{n}.json").exists()
    ]
    report(results, args.budget)
    if args.plot:
        plot(results, args.plot)
        print(f"Wrote {args.plot}")


def _passed_on(args: argparse.Namespace) -> List[str]:
    return [
        "--work-dir",
        str(args.work_dir),
        "--out",
        str(args.out),
        "--budget",
        str(args.budget),
        "--eval-minutes",
        str(args.eval_minutes),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
    ]


if __name__ == "__main__":
    main()
