"""Sentences -> fixed windows of the forward and backward language-model streams.

As bilm-tf trains: each sentence gives the forward pairs `<S> w1..wn -> w1..wn </S>`
and the backward pairs `</S> wn..w1 -> wn..w1 <S>`. An epoch shuffles the sentences
(a fixed permutation per epoch and seed), concatenates their pairs into one stream
per direction, deals the stream into `batch_size` rows and cuts the rows into
windows of `unroll_steps`; the LSTM state of a row is carried from window to window.
A window is addressed by (epoch, index), which is all a checkpoint needs to resume.
"""

from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from ..bilm.chars import BOS_TOKEN, EOS_TOKEN, strings_to_ids
from .corpus import TokenizedText
from .vocab import Vocabulary


class Window(NamedTuple):
    """One training step's data.

    chars (np.ndarray): int64 (n_unique, max_chars): character ids of the distinct
        input tokens (each token's character layer is computed once per window).
    inputs (np.ndarray): int64 (2, batch, steps): row of `chars` of every input,
        direction 0 forward, 1 backward.
    targets (np.ndarray): int64 (2, batch, steps): word id to predict.
    """

    chars: np.ndarray
    inputs: np.ndarray
    targets: np.ndarray

    @property
    def n_predictions(self) -> int:
        return int(self.targets.size)


class StreamBatcher:
    """Windows of one tokenised text, for one vocabulary.

    text (TokenizedText): The sentences.
    vocab (Vocabulary): Maps target tokens to word ids.
    batch_size (int): Rows of the whole batch (over all processes).
    unroll_steps (int): Tokens per row per window.
    max_chars (int): Characters per token of the model.
    seed (int): Seed of the per-epoch sentence shuffle.
    rows (Optional[Tuple[int, int]]): The slice of rows this process trains on
        (data-parallel training); all rows by default.
    """

    def __init__(
        self,
        text: TokenizedText,
        vocab: Vocabulary,
        *,
        batch_size: int,
        unroll_steps: int,
        max_chars: int,
        seed: int = 0,
        rows: Optional[Tuple[int, int]] = None,
    ) -> None:
        if batch_size < 1 or unroll_steps < 1:
            raise ValueError(
                f"batch_size and unroll_steps must be positive, got {batch_size}, {unroll_steps}"
            )
        self.text = text
        self.batch_size = batch_size
        self.unroll_steps = unroll_steps
        self.seed = seed
        self.rows = rows if rows is not None else (0, batch_size)
        types = list(text.types) + [BOS_TOKEN, EOS_TOKEN]
        self.bos_type, self.eos_type = len(types) - 2, len(types) - 1
        self.type_chars = strings_to_ids(types, max_chars).astype(np.int16)
        self.type_words = vocab.lookup(types)
        n_pairs = text.n_tokens + text.n_sentences
        self.row_length = n_pairs // batch_size
        if self.row_length < unroll_steps:
            raise ValueError(
                f"The text has {n_pairs:,} prediction pairs: too few for batch_size "
                f"{batch_size} x unroll_steps {unroll_steps}; use more text or smaller batches"
            )
        self._epoch: Optional[int] = None
        self._streams: Optional[Tuple[np.ndarray, np.ndarray]] = None

    @property
    def windows_per_epoch(self) -> int:
        return self.row_length // self.unroll_steps

    @property
    def tokens_per_window(self) -> int:
        """Predictions per direction in one (whole) batch."""
        return self.batch_size * self.unroll_steps

    def window(self, epoch: int, index: int) -> Window:
        """The `index`-th window of `epoch` (this process's rows).

        RETURNS (Window): Its data.
        """
        if not 0 <= index < self.windows_per_epoch:
            raise IndexError(f"Window {index} outside 0..{self.windows_per_epoch - 1}")
        inputs, targets = self._epoch_streams(epoch)
        start, end = self.rows
        steps = slice(index * self.unroll_steps, (index + 1) * self.unroll_steps)
        return self._window(inputs[:, start:end, steps], targets[:, start:end, steps])

    def eval_windows(self) -> List[Window]:
        """Every pair of the text in sentence order, in windows (the last one may be
        shorter); at most batch_size - 1 pairs at the end are left out.

        RETURNS (List[Window]): The windows, to read in order with state carried.
        """
        inputs, targets = self._streams_of(np.arange(self.text.n_sentences))
        windows = []
        for start in range(0, self.row_length, self.unroll_steps):
            steps = slice(start, min(start + self.unroll_steps, self.row_length))
            windows.append(self._window(inputs[:, :, steps], targets[:, :, steps]))
        return windows

    def _window(self, inputs: np.ndarray, targets: np.ndarray) -> Window:
        unique, inverse = np.unique(inputs, return_inverse=True)
        return Window(
            chars=self.type_chars[unique].astype(np.int64),
            inputs=inverse.reshape(inputs.shape).astype(np.int64),
            targets=self.type_words[targets],
        )

    def _epoch_streams(self, epoch: int) -> Tuple[np.ndarray, np.ndarray]:
        if self._epoch != epoch or self._streams is None:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.text.n_sentences)
            self._streams = self._streams_of(order)
            self._epoch = epoch
        return self._streams

    def _streams_of(self, order: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Input and target type ids (2, batch_size, row_length) of both directions."""
        starts = self.text.starts[order]
        lengths = self.text.starts[order + 1] - starts
        pair_counts = lengths + 1
        n = int(pair_counts.sum())
        first = np.repeat(np.cumsum(pair_counts) - pair_counts, pair_counts)
        j = np.arange(n, dtype=np.int64) - first  # position within the sentence's pairs
        start = np.repeat(starts, pair_counts)
        length = np.repeat(lengths, pair_counts)
        ids = np.append(self.text.ids, 0)  # a safe index for the masked positions
        inside = j < length
        # Forward: <S> w1..wn -> w1..wn </S>
        fw_in = np.where(j == 0, self.bos_type, ids[np.where(j > 0, start + j - 1, -1)])
        fw_out = np.where(inside, ids[np.where(inside, start + j, -1)], self.eos_type)
        # Backward: </S> wn..w1 -> wn..w1 <S>
        bw_in = np.where(j == 0, self.eos_type, ids[np.where(j > 0, start + length - j, -1)])
        bw_out = np.where(inside, ids[np.where(inside, start + length - 1 - j, -1)], self.bos_type)
        used = self.batch_size * self.row_length
        shape = (self.batch_size, self.row_length)
        inputs = np.stack([fw_in[:used].reshape(shape), bw_in[:used].reshape(shape)])
        targets = np.stack([fw_out[:used].reshape(shape), bw_out[:used].reshape(shape)])
        return inputs.astype(np.int32), targets.astype(np.int32)
