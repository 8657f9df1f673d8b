"""The `elmo` component's throughput against the bare biLM, and its memory over a
long stream.

    python bench/pipeline_speed.py [--size small] [--stream-docs 20000]

1. tokens/s of `nlp.pipe` over already tokenized Docs (one sentence each) with the
   component at its default settings, vs `ElmoEmbedder.embed_sentences` on the same
   token lists; random weights of a published size; best of --repeats passes each.
2. RSS every 1,000 Docs while streaming --stream-docs Docs through the pipeline
   (with `doc_cleaner` removing `doc._.elmo`), to show it stays flat.
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List

import spacy
import torch
from spacy.tokens import Doc

sys.path.insert(0, str(Path(__file__).parent))

from text import load_sentences  # noqa: E402

from spacy_elmo import ElmoBiLM, ElmoEmbedder, ElmoOptions, save_weights_files  # noqa: E402
from spacy_elmo.bilm.options import PUBLISHED_OPTIONS  # noqa: E402


def rss_mib() -> float:
    """Current resident set size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def best_rate(run, n_tokens: int, repeats: int) -> float:
    """Best tokens/s over repeats of run()."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n_tokens / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--n-sentences", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stream-docs", type=int, default=20_000)
    args = parser.parse_args()
    sentences = load_sentences(args.n_sentences)
    n_tokens = sum(len(s) for s in sentences)
    torch.manual_seed(0)
    bilm = ElmoBiLM(ElmoOptions.from_dict(PUBLISHED_OPTIONS[args.size]))
    with tempfile.TemporaryDirectory() as tmp:
        save_weights_files(bilm, tmp)
        embedder = ElmoEmbedder(tmp, device="cpu")
        nlp = spacy.blank("en")
        nlp.add_pipe("elmo", config={"weights": tmp})
    docs: List[Doc] = [Doc(nlp.vocab, words=s) for s in sentences]
    print(
        f"{len(sentences)} sentences, {n_tokens} tokens, size {args.size}, "
        f"{torch.get_num_threads()} threads"
    )

    def bare() -> None:
        for _ in embedder.embed_sentences(sentences):
            pass

    def pipeline() -> None:  # the same Doc objects each pass: set_annotations overwrites
        for _ in nlp.pipe(docs):
            pass

    bare()  # warm-up (and fills both token caches the same way)
    pipeline()
    bare_rate = best_rate(bare, n_tokens, args.repeats)
    pipe_rate = best_rate(pipeline, n_tokens, args.repeats)
    print(f"bare biLM (ElmoEmbedder): {bare_rate:8.0f} tokens/s")
    print(f"nlp.pipe with 'elmo':      {pipe_rate:8.0f} tokens/s ({pipe_rate / bare_rate:.0%})")

    nlp.add_pipe("doc_cleaner", config={"attrs": {"_.elmo": None}})

    def stream() -> Iterator[Doc]:
        for i in range(args.stream_docs):
            yield Doc(nlp.vocab, words=sentences[i % len(sentences)])

    print(f"RSS while streaming {args.stream_docs} Docs:")
    samples = []
    for i, _ in enumerate(nlp.pipe(stream(), batch_size=256), 1):
        if i % 1000 == 0:
            samples.append(rss_mib())
            print(f"  {i:6d} docs: {samples[-1]:6.0f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"RSS after 1,000 docs {samples[0]:.0f} MiB, at the end {samples[-1]:.0f} MiB "
        f"(growth {samples[-1] - samples[0]:+.0f} MiB); peak {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
