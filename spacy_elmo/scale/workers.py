"""What each Ray worker holds: the biLM, loaded once from the cluster's object store."""

from typing import List, Optional, Sequence

import ray

from ..bilm.model import ElmoBiLM
from ..io.embedder import ElmoEmbedder
from ..io.references import WeightsRef, load_bilm


def share_bilm(weights: WeightsRef) -> List[ray.ObjectRef]:
    """Load a biLM on the driver and put it in the object store, so that workers on
    every node read it from there (the weights files need not be on the nodes).

    weights (WeightsRef): Any weights reference, or an ElmoBiLM.
    RETURNS (List[ray.ObjectRef]): The biLM's reference, in a list: Ray passes it to
        workers as it is instead of fetching it in the caller.
    """
    return [ray.put(load_bilm(weights))]


def worker_embedder(
    shared: List[ray.ObjectRef],
    *,
    batch_size: int,
    threads: int,
    vocabulary: Optional[Sequence[str]],
) -> ElmoEmbedder:
    """A worker's embedder, on the CPU, for the biLM `share_bilm` put in the store.

    shared (List[ray.ObjectRef]): What share_bilm returned.
    batch_size (int): Sentences per forward pass.
    threads (int): PyTorch CPU threads in this worker.
    vocabulary (Optional[Sequence[str]]): Words whose token layer is precomputed.
    RETURNS (ElmoEmbedder): The embedder.
    """
    bilm: ElmoBiLM = ray.get(shared[0])
    return ElmoEmbedder(
        bilm, device="cpu", batch_size=batch_size, n_threads=threads, vocabulary=vocabulary
    )
