"""Index arithmetic that packs sentences with BOS/EOS for both directions."""

from dataclasses import dataclass
from typing import List

import numpy as np


@dataclass
class Packing:
    """Where each token of a batch goes in the packed, time-major sequences.

    Rows are sorted longest first; sentence r of the batch runs for lengths[r] + 2
    steps (BOS and EOS added), or none when it is empty. The forward direction reads
    [BOS, w1..wn, EOS], the backward one [EOS, wn..w1, BOS].

    Packed, time-major order: all rows of step 0, then all rows of step 1, and so on.
    As rows are sorted longest first, the rows still running at step t are the first
    batch_sizes[t] sorted rows, so (step t, sorted row r) sits at packed position
    sum(batch_sizes[:t]) + r. Both directions share this layout (a sentence runs for
    the same number of steps either way); only what is read at each position differs.

    order (np.ndarray): Batch rows, longest first.
    batch_sizes (List[int]): Rows running at each time step.
    inputs (np.ndarray): (2, n_packed) token-table row read at each packed position
        (table rows 0 and 1 are BOS and EOS, the batch's tokens follow).
    outputs (np.ndarray): (2, n_sentences, max_len) packed position holding each
        token's output per direction, n_packed for padding.
    """

    order: np.ndarray
    batch_sizes: List[int]
    inputs: np.ndarray
    outputs: np.ndarray

    @property
    def n_running(self) -> int:
        """Number of non-empty sentences."""
        return self.batch_sizes[0] if self.batch_sizes else 0

    @classmethod
    def build(cls, rows: np.ndarray, lengths: np.ndarray) -> "Packing":
        """Pack a batch.

        rows (np.ndarray): (n_sentences, max_len) token-table row of each token
            (anything at padding positions).
        lengths (np.ndarray): (n_sentences,) tokens per sentence.
        RETURNS (Packing): The packing.
        """
        n_sent, max_len = rows.shape
        # Sorted row r is batch row order[r]; empty sentences sort last and run no step.
        order = np.argsort(-lengths, kind="stable")
        lengths_sorted = lengths[order]
        steps = np.where(lengths_sorted > 0, lengths_sorted + 2, 0)
        n_steps = int(steps.max()) if n_sent else 0
        # batch_sizes[t]: sorted rows with more than t steps, i.e. running at step t.
        batch_sizes = [int(n) for n in (steps[None, :] > np.arange(n_steps)[:, None]).sum(1)]
        if n_steps == 0:
            outputs = np.zeros((2, n_sent, max_len), dtype=np.int64)
            return cls(order, batch_sizes, np.zeros((2, 0), dtype=np.int64), outputs)
        # fwd[r, t]: table row read by sorted row r at step t: BOS (0) at t = 0, the
        # tokens at 1..n, EOS (1) at n + 1; what lies after a row's last step is unused.
        time = np.arange(n_steps)[None, :]
        fwd = np.zeros((n_sent, n_steps), dtype=np.int64)
        fwd[:, 1 : n_steps - 1] = rows[order, : n_steps - 2]
        fwd[np.arange(n_sent), np.minimum(lengths_sorted + 1, n_steps - 1)] = 1
        # The backward direction reads a row's [BOS, w1..wn, EOS] from its own end: at
        # step t it reads fwd position n + 1 - t (EOS first, BOS at t = n + 1).
        src = np.clip(lengths_sorted[:, None] + 1 - time, 0, None)
        bwd = np.take_along_axis(fwd, src, axis=1)
        # Transposed to (step, row) and masked to running cells, the row-major flattening
        # is the packed order: each step's running rows (a prefix), step after step.
        running = time < steps[:, None]
        inputs = np.stack([fwd.T[running.T], bwd.T[running.T]])
        # Packed position of (time t, sorted row r) is offsets[t] + r.
        offsets = np.concatenate([[0], np.cumsum(batch_sizes)]).astype(np.int64)
        n_packed = int(offsets[-1])
        # Token p (0-based) of sorted row r is read at forward step p + 1 and at backward
        # step n - p; its output per direction is the LSTM output at that step (the BOS
        # and EOS steps give none). Padding points at n_packed, one past the packed
        # outputs, where the caller appends a zero row; the min/clip only keep padding's
        # indices inside `offsets`. Scattering by `order` returns to the batch's row order.
        pos = np.arange(max_len)[None, :]
        real = pos < lengths_sorted[:, None]
        sorted_rows = np.arange(n_sent)[:, None]
        fwd_pos = offsets[np.minimum(pos + 1, n_steps)] + sorted_rows
        bwd_pos = offsets[np.clip(lengths_sorted[:, None] - pos, 0, n_steps)] + sorted_rows
        outputs = np.full((2, n_sent, max_len), n_packed, dtype=np.int64)
        outputs[0][order] = np.where(real, fwd_pos, n_packed)
        outputs[1][order] = np.where(real, bwd_pos, n_packed)
        return cls(order=order, batch_sizes=batch_sizes, inputs=inputs, outputs=outputs)
