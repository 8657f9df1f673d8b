"""Throughput and peak memory of the biLM on CPU, as a share of the machine's
measured matmul rate.

    python bench/bilm_speed.py [--sizes small,original] [--batch-sizes 1,32,128]

Each (size, batch size) runs in a fresh subprocess, so its peak RSS is its own.
Random weights of the published sizes; real English sentences (bench/text.py),
bucketed by length. The ceiling is matmul GFLOP/s / full FLOPs per token, counting
the char CNN for every token even when the token cache skips it.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import torch

sys.path.insert(0, str(Path(__file__).parent))

from spacy_elmo.bilm import ElmoBiLM  # noqa: E402
from spacy_elmo.bilm.options import PUBLISHED_OPTIONS, ElmoOptions  # noqa: E402

# Tokens timed per run at batch size 1, where every step is a matrix-vector product.
BATCH1_TOKENS = {"small": 6000, "medium": 2000, "original": 1000}


def flops_per_token(options: Dict[str, Any]) -> float:
    """Forward FLOPs per token: char CNN + highway + projection + both LSTM stacks."""
    cnn, lstm = options["char_cnn"], options["lstm"]
    chars, char_dim = cnn["max_characters_per_token"], cnn["embedding"]["dim"]
    n_filters = sum(n for _, n in cnn["filters"])
    p, d = lstm["projection_dim"], lstm["dim"]
    conv = sum(2 * (chars - w + 1) * w * char_dim * n for w, n in cnn["filters"])
    highway = cnn["n_highway"] * 2 * n_filters * 2 * n_filters
    projection = 2 * n_filters * p if n_filters != p else 0
    cell = 2 * (p + p) * 4 * d + (2 * d * p if d != p else 0)
    return conv + highway + projection + 2 * lstm["n_layers"] * cell


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 matmul rate over a few repeats."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def subset(sentences: List[List[str]], max_tokens: int) -> List[List[str]]:
    """Every k-th sentence of the length-sorted list, up to max_tokens tokens."""
    ordered = sorted(sentences, key=len)
    total = sum(len(s) for s in ordered)
    step = max(1, round(total / max_tokens))
    return ordered[::step]


def worker(size: str, batch_size: int, sentences_path: Path, cache: bool) -> Dict[str, Any]:
    """One timed pass in this process; the text comes tokenized from the parent, so
    the peak RSS is torch + model + inference, not spaCy's tokenizer."""
    sentences = json.loads(sentences_path.read_text(encoding="utf8"))
    if batch_size == 1:
        sentences = subset(sentences, BATCH1_TOKENS.get(size, 2000))
    sentences.sort(key=len)
    torch.manual_seed(0)
    options = ElmoOptions.from_dict(PUBLISHED_OPTIONS[size])
    model = ElmoBiLM(options, token_cache_size=10_000 if cache else 0).eval()
    batches = [sentences[i : i + batch_size] for i in range(0, len(sentences), batch_size)]
    with torch.inference_mode():
        model.embed_tokens(sentences[-batch_size:])  # warm-up: the longest batch
        model.token_cache.clear()
        model.token_cache.hits = model.token_cache.misses = 0
        start = time.perf_counter()
        for batch in batches:
            model.embed_tokens(batch)
        seconds = time.perf_counter() - start
    n_tokens = sum(len(s) for s in sentences)
    return {
        "size": size,
        "batch_size": batch_size,
        "sentences": len(sentences),
        "tokens": n_tokens,
        "seconds": seconds,
        "tokens_per_s": n_tokens / seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cache_hits": model.token_cache.hits,
        "cache_misses": model.token_cache.misses,
        "threads": torch.get_num_threads(),
    }


def run_worker(args: argparse.Namespace, size: str, batch_size: int) -> Dict[str, Any]:
    command = [sys.executable, __file__, "--worker", size, str(batch_size)]
    command += ["--sentences", str(args.sentences)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    if args.no_cache:
        command.append("--no-cache")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,original")
    parser.add_argument("--batch-sizes", default="1,32,128")
    parser.add_argument("--n-sentences", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--no-cache", action="store_true", help="disable the token cache")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", nargs=2, metavar=("SIZE", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--sentences", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        result = worker(args.worker[0], int(args.worker[1]), args.sentences, not args.no_cache)
        print(json.dumps(result))
        return
    from text import load_sentences

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(load_sentences(args.n_sentences), f)
    args.sentences = Path(f.name)
    gflops_before = gflops = matmul_gflops()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line),
        "unknown CPU",
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}")
    print(f"float32 matmul (2048^3): {gflops_before:.1f} GFLOP/s (re-measured after each run;")
    print("the ceiling uses the best rate seen so far)")
    header = f"{'size':<9}{'batch':>6}{'tokens':>8}{'tok/s':>9}{'ceiling':>9}{'share':>8}"
    print(header + f"{'peak RSS':>11}{'cache hit':>11}")
    results = []
    for size in args.sizes.split(","):
        fpt = flops_per_token(PUBLISHED_OPTIONS[size])
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            r = run_worker(args, size, batch_size)
            gflops = max(gflops, matmul_gflops())  # the machine's rate: the best seen
            r["mflops_per_token"] = fpt / 1e6
            r["ceiling_tokens_per_s"] = gflops * 1e9 / fpt
            r["share_of_ceiling"] = r["tokens_per_s"] / r["ceiling_tokens_per_s"]
            lookups = r["cache_hits"] + r["cache_misses"]
            hit_rate = r["cache_hits"] / lookups if lookups else 0.0
            print(
                f"{size:<9}{batch_size:>6}{r['tokens']:>8}{r['tokens_per_s']:>9.0f}"
                f"{r['ceiling_tokens_per_s']:>9.0f}{r['share_of_ceiling']:>8.0%}"
                f"{r['peak_rss_mib']:>8.0f} MiB{hit_rate:>10.0%}",
                flush=True,
            )
            results.append(r)
    args.sentences.unlink()
    gflops_after = matmul_gflops()
    print(f"float32 matmul after the runs: {gflops_after:.1f} GFLOP/s (noise check)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "matmul_gflops": {"first": gflops_before, "best": gflops, "last": gflops_after},
            "cpu": cpu,
            "runs": results,
        }
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
