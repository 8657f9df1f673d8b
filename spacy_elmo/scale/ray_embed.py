"""`embed --ray`: the biLM runs in workers on a Ray cluster, the driver reads the
input and writes the file with the same writer as one process (io/embed_file.py).

The driver cuts the input into the very batches one process would run (windows
sorted by length, `io.embedder.length_batches`), keeps a bounded number of them in
flight on the workers and yields the results in input order, so the file is the
one single-process `embed` writes. A worker that dies is restarted by Ray and its
batches run again; the writer's atomic rename means a failed run leaves no file.
"""

import logging
from collections import deque
from itertools import islice
from typing import Any, Deque, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import ray
from ray.exceptions import RayActorError, RayTaskError

from ..io.embedder import Tokens, length_batches
from ..io.references import WeightsRef
from .workers import share_bilm, worker_embedder

# Batches queued on each worker: one running, one waiting, so that a worker never
# waits for the driver; this also bounds the driver's and each worker's memory.
BATCHES_PER_WORKER = 2


@ray.remote(max_restarts=-1, max_task_retries=-1)
class EmbedWorker:
    """One worker process: the biLM, loaded once, embedding batch after batch."""

    def __init__(
        self,
        shared: List[ray.ObjectRef],
        batch_size: int,
        threads: int,
        vocabulary: Optional[Sequence[str]],
    ) -> None:
        self.embedder = worker_embedder(
            shared, batch_size=batch_size, threads=threads, vocabulary=vocabulary
        )

    def embed(self, sentences: List[Tokens]) -> List[np.ndarray]:
        return self.embedder.embed_batch(sentences)


class RayEmbedder:
    """Embeds sentences on Ray workers, for `embed_to_hdf5` (a SentenceEmbedder)."""

    def __init__(
        self,
        weights: WeightsRef,
        *,
        workers: Optional[int] = None,
        threads: int = 1,
        batch_size: int = 64,
        vocabulary: Optional[Sequence[str]] = None,
    ) -> None:
        """Start the workers on the cluster `ray.init` joined.

        weights (WeightsRef): Any weights reference, or an ElmoBiLM.
        workers (Optional[int]): Worker processes; default: as many as the cluster's
            CPUs hold with `threads` each.
        threads (int): CPUs (PyTorch threads) per worker.
        batch_size (int): Sentences per forward pass.
        vocabulary (Optional[Sequence[str]]): Words whose token layer is precomputed.
        """
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        self.batch_size = batch_size
        # Held here: a worker that Ray restarts reads the biLM from the store again.
        self.shared = share_bilm(weights)
        remote: Any = EmbedWorker  # an actor class: mypy sees the class @ray.remote wraps
        self.workers = [
            remote.options(num_cpus=threads).remote(self.shared, batch_size, threads, vocabulary)
            for _ in range(workers)
        ]
        self.max_in_flight = BATCHES_PER_WORKER * workers

    def embed_sentences(
        self, sentences: Iterable[Tokens], *, window: int = 32
    ) -> Iterator[np.ndarray]:
        """Embed a stream of sentences, `window` batches sorted by length together,
        as ElmoEmbedder.embed_sentences does.

        sentences (Iterable[Sequence[str]]): Tokens per sentence; may be a generator.
        window (int): Batches read ahead and sorted by length together.
        YIELDS (numpy.ndarray): Per sentence, in input order, (n_layers + 1, n_tokens, dim).
        """
        # (result, the window's results, its rows, whether it is the window's last batch)
        pending: Deque[Tuple[ray.ObjectRef, List[np.ndarray], List[int], bool]] = deque()
        stream = iter(sentences)
        n_batches = 0
        while chunk := list(islice(stream, self.batch_size * window)):
            results: List[np.ndarray] = [np.empty(0)] * len(chunk)
            batches = length_batches(chunk, self.batch_size)
            for k, rows in enumerate(batches):
                if len(pending) == self.max_in_flight:
                    yield from _collect(*pending.popleft())
                worker = self.workers[n_batches % len(self.workers)]
                result = worker.embed.remote([chunk[i] for i in rows])
                pending.append((result, results, rows, k == len(batches) - 1))
                n_batches += 1
        while pending:
            yield from _collect(*pending.popleft())


def _collect(
    result: ray.ObjectRef, results: List[np.ndarray], rows: List[int], last: bool
) -> Iterator[np.ndarray]:
    """Wait for one batch; after a window's last batch (all before it are in), yield
    the window's sentences in input order."""
    try:
        layers = ray.get(result)
    except RayTaskError as e:
        raise e.as_instanceof_cause() from None
    except RayActorError as e:
        raise ConnectionError(f"A Ray worker was lost and could not be restarted: {e}") from None
    for i, sentence in zip(rows, layers):
        results[i] = sentence
    if last:
        yield from results


def connect(address: str) -> None:
    """Join a Ray cluster (its workers stop when this process ends).

    address (str): "local" (start a cluster on this machine) or "HOST:PORT".
    """
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConnectionError(f"--ray {address}: cannot join a Ray cluster there ({e})") from None
