"""Peak memory of the `elmo` component on one long Doc without sentences, against its
length: what grows with the Doc and what stays bounded.

    python bench/long_doc_memory.py [--size small] [--lengths 25000,50000,100000]

Each measurement runs in a fresh process: spaCy, the component (random weights of a
published size) and a warm-up on a short Doc, then one Doc of N tokens (real English
words, no sentence boundaries, so the component cuts it into windows). It prints the
peak RSS above the warmed-up process, the bytes `doc._.elmo` holds, and the rest.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from text import load_sentences  # noqa: E402

SETTINGS = {
    "average (default)": {},
    "average, float16": {"dtype": "float16"},
    "all layers": {"layers": "all"},
}


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(size: str, n_tokens: int, config: dict) -> dict:
    """In this process: the peak RSS growth of nlp(doc) for one Doc of n_tokens."""
    import spacy
    import torch
    from spacy.tokens import Doc

    from spacy_elmo import ElmoBiLM, ElmoOptions, save_weights_files
    from spacy_elmo.bilm.options import PUBLISHED_OPTIONS

    torch.set_num_threads(1)
    torch.manual_seed(0)
    words = [w for s in load_sentences(3000) for w in s]
    words = (words * (n_tokens // len(words) + 1))[:n_tokens]
    with tempfile.TemporaryDirectory() as tmp:
        save_weights_files(ElmoBiLM(ElmoOptions.from_dict(PUBLISHED_OPTIONS[size])), tmp)
        nlp = spacy.blank("en")
        nlp.add_pipe("elmo", config={"weights": tmp, **config})
    nlp(Doc(nlp.vocab, words=words[:2000]))  # warm-up: every buffer of a batch exists
    doc = Doc(nlp.vocab, words=words)
    before = rss_mib()
    resource_peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    doc = nlp(doc)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stored = doc._.elmo.layers.nbytes / 2**20
    return {
        "tokens": n_tokens,
        "peak_growth_mib": max(peak, resource_peak_before) - before,
        "stored_mib": stored,
        "after_mib": rss_mib() - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--lengths", default="25000,50000,100000")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measurement, as JSON
        name, n = args.child.rsplit(":", 1)
        print(json.dumps(measure(args.size, int(n), SETTINGS[name])))
        return
    print(f"biLM size {args.size}, 1 thread; one Doc without sentences per run")
    print(f"{'setting':20} {'tokens':>8} {'peak above':>11} {'doc._.elmo':>11} {'rest':>7}")
    for name in SETTINGS:
        for n in map(int, args.lengths.split(",")):
            out = subprocess.run(
                [sys.executable, __file__, "--size", args.size, "--child", f"{name}:{n}"],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rest = r["peak_growth_mib"] - r["stored_mib"]
            print(
                f"{name:20} {n:8,} {r['peak_growth_mib']:8.0f} MiB {r['stored_mib']:7.0f} MiB "
                f"{rest:4.0f} MiB"
            )


if __name__ == "__main__":
    main()
