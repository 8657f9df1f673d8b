"""Words/s of `embed` in one process against `embed --ray` with 1 and 2 workers, on
the same input in one run, and Ray's overhead per batch.

    unshare --net --pid --fork --mount-proc bash -c \
        'ip link set lo up && python bench/ray_embed.py [--size small] [--lines 4000]'

Run it inside a private network namespace as above (root): the Ray cluster it starts
on this machine (2 CPUs) then binds to 127.0.0.1 only. Random weights of a published
size; real English sentences (bench/text.py); the same writer and batches as the CLI.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import ray

sys.path.insert(0, str(Path(__file__).parent))

from text import load_sentences  # noqa: E402

from spacy_elmo.bilm import ElmoBiLM  # noqa: E402
from spacy_elmo.bilm.options import PUBLISHED_OPTIONS, ElmoOptions  # noqa: E402
from spacy_elmo.io.embed_file import embed_to_hdf5, make_reducer  # noqa: E402
from spacy_elmo.io.embedder import ElmoEmbedder  # noqa: E402
from spacy_elmo.scale.ray_embed import RayEmbedder  # noqa: E402


def timed(embedder, items, output: Path) -> float:
    """Seconds to embed `items` into `output` with the CLI's writer."""
    start = time.perf_counter()
    embed_to_hdf5(embedder, items, output, reducer=make_reducer("all"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="small", choices=sorted(PUBLISHED_OPTIONS))
    parser.add_argument("--lines", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    bilm = ElmoBiLM(ElmoOptions.from_dict(PUBLISHED_OPTIONS[args.size])).eval()
    items = [(i, " ".join(t), t) for i, t in enumerate(load_sentences(args.lines))]
    words = sum(len(tokens) for _, _, tokens in items)
    n_batches = -(-len(items) // args.batch_size)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1")
    with tempfile.TemporaryDirectory() as tmp:
        single = timed(
            ElmoEmbedder(bilm, device="cpu", batch_size=args.batch_size, n_threads=1),
            items,
            Path(tmp) / "single.hdf5",
        )
        print(f"{args.size}, {len(items)} lines, {words} words, {n_batches} batches")
        print(f"one process (1 thread): {words / single:8.0f} words/s")
        for workers in (1, 2):
            embedder = RayEmbedder(bilm, workers=workers, threads=1, batch_size=args.batch_size)
            timed(embedder, items[: args.batch_size * workers], Path(tmp) / "warm.hdf5")
            seconds = timed(embedder, items, Path(tmp) / f"ray{workers}.hdf5")
            print(f"Ray, {workers} worker(s):       {words / seconds:8.0f} words/s", end="")
            if workers == 1:
                overhead = (seconds - single) / n_batches * 1000
                print(f"  (overhead {overhead:.1f} ms a batch)", end="")
            print()
            for worker in embedder.workers:
                ray.kill(worker)


if __name__ == "__main__":
    main()
