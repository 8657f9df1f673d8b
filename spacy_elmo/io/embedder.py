"""Embed token lists with a biLM, outside spaCy (the role of AllenNLP's ElmoEmbedder)."""

from typing import Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np
import torch

from ..bilm.model import DEFAULT_TOKEN_CACHE_SIZE, ElmoBiLM
from .references import DEFAULT_WEIGHTS, WeightsRef, load_bilm

Tokens = Sequence[str]


class ElmoEmbedder:
    """Compute ELMo layers for tokenized sentences as numpy arrays.

    >>> embedder = ElmoEmbedder()  # the shipped English biLM; or any weights reference
    >>> layers = embedder.embed_sentence(["The", "bank", "raised", "rates", "."])
    >>> layers.shape  # (n_layers + 1, n_tokens, 2 * projection_dim)

    Sentences are bucketed by length so padding stays small; results come back in
    the input order. Runs under `torch.inference_mode()`, with the token-layer cache.
    """

    def __init__(
        self,
        weights: WeightsRef = DEFAULT_WEIGHTS,
        *,
        device: Union[str, int, torch.device, None] = None,
        batch_size: int = 32,
        stateful: bool = False,
        token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
        n_threads: Optional[int] = None,
        vocabulary: Optional[Sequence[str]] = None,
    ) -> None:
        """weights (WeightsRef): Any reference `load_bilm` takes, or an ElmoBiLM;
            default: the biLM shipped in the package.
        device (Union[str, int, torch.device, None]): "cpu", "cuda", a CUDA index...;
            defaults to the first GPU when there is one, else the CPU.
        batch_size (int): Sentences per forward pass.
        stateful (bool): Carry LSTM state from batch to batch (sentences then run
            in the given order, without bucketing).
        token_cache_size (int): Token strings whose token layer is kept across batches.
        n_threads (Optional[int]): CPU threads for PyTorch (torch.set_num_threads).
        vocabulary (Optional[Sequence[str]]): Words whose token layer is precomputed
            once, so they skip the character CNN (AllenNLP's vocab_to_cache).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if n_threads is not None:
            torch.set_num_threads(n_threads)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif isinstance(device, int):
            device = f"cuda:{device}" if device >= 0 else "cpu"
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.bilm: ElmoBiLM = load_bilm(
            weights, stateful=stateful, token_cache_size=token_cache_size
        ).to(self.device)
        self.bilm.stateful = stateful
        self.bilm.set_vocabulary(vocabulary)
        self.bilm.eval()

    @property
    def output_dim(self) -> int:
        """Width of each layer."""
        return self.bilm.output_dim

    def embed_batch(self, sentences: Sequence[Tokens]) -> List[np.ndarray]:
        """Embed sentences in one forward pass.

        sentences (Sequence[Sequence[str]]): Tokens per sentence.
        RETURNS (List[numpy.ndarray]): Per sentence, float32 (n_layers + 1, n_tokens, dim).
        """
        with torch.inference_mode():
            out = self.bilm.embed_tokens(sentences)
            layers = out.layers.float().cpu().numpy()
        return [layers[:, i, : len(s)].copy() for i, s in enumerate(sentences)]

    def embed_sentence(self, tokens: Tokens) -> np.ndarray:
        """Embed one sentence.

        tokens (Sequence[str]): Its tokens.
        RETURNS (numpy.ndarray): float32 (n_layers + 1, n_tokens, dim).
        """
        return self.embed_batch([tokens])[0]

    def embed_sentences(
        self, sentences: Iterable[Tokens], *, window: int = 32
    ) -> Iterator[np.ndarray]:
        """Embed a stream of sentences, `window` batches at a time, bucketed by length.

        sentences (Iterable[Sequence[str]]): Tokens per sentence; may be a generator.
        window (int): Batches read ahead and sorted by length together.
        YIELDS (numpy.ndarray): Per sentence, in input order, (n_layers + 1, n_tokens, dim).
        """
        buffer: List[Tokens] = []
        for sentence in sentences:
            buffer.append(sentence)
            if len(buffer) == self.batch_size * window:
                yield from self._embed_window(buffer)
                buffer = []
        if buffer:
            yield from self._embed_window(buffer)

    def _embed_window(self, sentences: List[Tokens]) -> List[np.ndarray]:
        results: List[np.ndarray] = [np.empty(0)] * len(sentences)
        for rows in length_batches(sentences, self.batch_size, keep_order=self.bilm.stateful):
            for i, layers in zip(rows, self.embed_batch([sentences[i] for i in rows])):
                results[i] = layers
        return results


def length_batches(
    sentences: Sequence[Tokens], batch_size: int, *, keep_order: bool = False
) -> List[List[int]]:
    """How a window of sentences is cut into forward passes: sorted by length, so
    that padding stays small, `batch_size` at a time.

    sentences (Sequence[Sequence[str]]): The window's sentences.
    batch_size (int): Sentences per batch.
    keep_order (bool): Keep the given order (a stateful biLM's batches follow on).
    RETURNS (List[List[int]]): Each batch's sentence indices.
    """
    order = list(range(len(sentences)))
    if not keep_order:
        order.sort(key=lambda i: len(sentences[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
