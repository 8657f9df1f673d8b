"""ELMo vectors as a column of a Ray Dataset: the biLM runs in an actor pool
(`Dataset.map_batches` with a class), loaded once per actor."""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import ray
from ray.data import Dataset

from ..io.embed_file import make_reducer
from ..io.references import DEFAULT_WEIGHTS, WeightsRef
from .workers import share_bilm, worker_embedder


def add_elmo_vectors(
    dataset: Dataset,
    weights: WeightsRef = DEFAULT_WEIGHTS,
    *,
    column: str = "text",
    output_column: str = "elmo",
    mode: str = "all",
    mix: Optional[Sequence[float]] = None,
    workers: int = 1,
    threads: int = 1,
    batch_size: int = 64,
    vocabulary: Optional[Sequence[str]] = None,
) -> Dataset:
    """Add each row's ELMo vectors to a dataset of texts or token lists.

    dataset (ray.data.Dataset): Rows with `column`: a text (cut on whitespace, as
        `embed` does) or a list of tokens.
    weights (WeightsRef): Any weights reference, or an ElmoBiLM; default: the
        shipped biLM. It is loaded here and shared through the object store.
    column (str): The column to embed.
    output_column (str): The column to add: float32 (n_layers + 1, n_tokens, dim)
        for mode "all", (n_tokens, dim) otherwise.
    mode (str): "all", "top", "average" or "mix" (as `embed --mode`).
    mix (Optional[Sequence[float]]): The weights for mode "mix" (softmaxed).
    workers (int): Actors, each with its own copy of the biLM.
    threads (int): CPUs (PyTorch threads) per actor.
    batch_size (int): Rows per forward pass.
    vocabulary (Optional[Sequence[str]]): Words whose token layer is precomputed.
    RETURNS (ray.data.Dataset): The dataset with `output_column` added (lazy, as
        Ray Data is).
    """
    make_reducer(mode, mix)  # a bad mode fails here, not in the workers
    return dataset.map_batches(
        ElmoBatches,
        # The dataset's plan holds these, so the biLM stays in the store while the
        # dataset lives (a restarted actor reads it again).
        fn_constructor_kwargs={
            "shared": share_bilm(weights),
            "column": column,
            "output_column": output_column,
            "mode": mode,
            "mix": mix,
            "batch_size": batch_size,
            "threads": threads,
            "vocabulary": vocabulary,
        },
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=workers,
        num_cpus=threads,
    )


class ElmoBatches:
    """The callable class each actor of `add_elmo_vectors` runs."""

    def __init__(
        self,
        shared: List[ray.ObjectRef],
        column: str,
        output_column: str,
        mode: str,
        mix: Optional[Sequence[float]],
        batch_size: int,
        threads: int,
        vocabulary: Optional[Sequence[str]],
    ) -> None:
        self.embedder = worker_embedder(
            shared, batch_size=batch_size, threads=threads, vocabulary=vocabulary
        )
        self.reduce = make_reducer(mode, mix)
        self.column = column
        self.output_column = output_column

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, Any]:
        sentences = [
            value.split() if isinstance(value, str) else [str(t) for t in value]
            for value in batch[self.column]
        ]
        # One forward pass: map_batches gives batch_size rows at most.
        vectors = np.empty(len(sentences), dtype=object)
        for i, layers in enumerate(self.embedder.embed_batch(sentences)):
            vectors[i] = self.reduce(layers)
        return {**batch, self.output_column: vectors}
