"""Embed a text file, one sentence per line, into an hdf5 file (the AllenNLP
`elmo` command's format, or a scalable concatenated layout), and merge shards."""

import json
from collections import deque
from pathlib import Path
from typing import Callable, Deque, Iterable, Iterator, List, Optional, Sequence, Tuple

import h5py
import numpy as np

from ..bilm.scalar_mix import mix_layers
from .atomic import atomic_path
from .embedder import ElmoEmbedder

Reducer = Callable[[np.ndarray], np.ndarray]
LAYOUTS = ("per-line", "concat")


def make_reducer(mode: str, mix_weights: Optional[Sequence[float]] = None) -> Reducer:
    """How each sentence's (n_layers + 1, n_tokens, dim) layers are stored.

    mode (str): "all" (every layer), "top", "average" or "mix" (softmax of mix_weights).
    RETURNS (Reducer): The function applied to each sentence's layers.
    """
    if mode == "all":
        return lambda x: x
    if mode == "top":
        return lambda x: x[-1]
    if mode == "average":
        return lambda x: x.mean(axis=0)
    if mode == "mix":
        if not mix_weights:
            raise ValueError("--mix needs weights, e.g. --mix 0.2,0.3,0.5")
        return lambda x: mix_layers(x, mix_weights)
    raise ValueError(f"Unknown mode {mode!r}: expected all, top, average or mix")


def embed_to_hdf5(
    embedder: ElmoEmbedder,
    items: Iterable[Tuple[int, str, List[str]]],
    output: Path,
    *,
    reducer: Reducer,
    layout: str = "per-line",
    on_sentence: Optional[Callable[[], None]] = None,
) -> int:
    """Embed (line index, text, tokens) items into `output`, written to a temporary
    name and renamed when complete, so a killed run never leaves a partial file.

    layout (str): "per-line": one dataset per line keyed by its line index, plus
        `sentence_to_index` (AllenNLP's format; that map is kept in memory);
        "concat": `vectors` (all tokens of all lines, concatenated on the token
        axis), `offsets` (n_lines + 1) and `line_index`: memory independent of the
        input size, and it scales to any number of lines.
    RETURNS (int): Number of lines written.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")

    def tokens_of(buffer: Deque[Tuple[int, str, List[str]]]) -> Iterator[List[str]]:
        for index, text, tokens in items:
            buffer.append((index, text, tokens))
            yield tokens

    pending: Deque[Tuple[int, str, List[str]]] = deque()
    with atomic_path(output) as tmp:
        return _write(embedder, tokens_of(pending), pending, tmp, reducer, layout, on_sentence)


def _write(
    embedder: ElmoEmbedder,
    sentences: Iterator[List[str]],
    pending: Deque[Tuple[int, str, List[str]]],
    tmp: Path,
    reducer: Reducer,
    layout: str,
    on_sentence: Optional[Callable[[], None]],
) -> int:
    """Write each sentence's stored layers into `tmp`, in input order."""
    texts: List[Tuple[int, str]] = []
    n_lines = 0
    with h5py.File(tmp, "w") as f:
        writer = _ConcatWriter(f) if layout == "concat" else None
        for layers in embedder.embed_sentences(sentences):
            index, text, _ = pending.popleft()
            data = reducer(layers)
            if writer is None:
                f.create_dataset(str(index), data=data)
                texts.append((index, text))
            else:
                writer.add(index, data)
            n_lines += 1
            if on_sentence is not None:
                on_sentence()
        if writer is None:
            mapping = {text: index for index, text in texts}
            f.create_dataset("sentence_to_index", data=[json.dumps(mapping)])
        else:
            writer.close()
        f.attrs["n_lines"] = n_lines
        f.attrs["layout"] = layout
    return n_lines


class _ConcatWriter:
    """Appends sentences to resizable `vectors`, `offsets` and `line_index` datasets."""

    def __init__(self, f: h5py.File) -> None:
        self.f = f
        self.vectors: Optional[h5py.Dataset] = None
        self.offsets: List[int] = [0]
        self.lines: List[int] = []

    def add(self, index: int, data: np.ndarray) -> None:
        token_axis = data.ndim - 2
        if self.vectors is None:
            shape = list(data.shape)
            shape[token_axis] = 0
            maxshape: List[Optional[int]] = list(data.shape)
            maxshape[token_axis] = None
            chunks = list(data.shape)
            chunks[token_axis] = 1024
            self.vectors = self.f.create_dataset(
                "vectors", shape=shape, maxshape=maxshape, dtype=data.dtype, chunks=tuple(chunks)
            )
        start = self.offsets[-1]
        end = start + data.shape[token_axis]
        self.vectors.resize(end, axis=token_axis)
        if token_axis == 0:
            self.vectors[start:end] = data
        else:
            self.vectors[:, start:end] = data
        self.offsets.append(end)
        self.lines.append(index)

    def close(self) -> None:
        if self.vectors is None:
            self.f.create_dataset("vectors", shape=(0, 0), dtype="float32")
        self.f.create_dataset("offsets", data=np.asarray(self.offsets, dtype=np.int64))
        self.f.create_dataset("line_index", data=np.asarray(self.lines, dtype=np.int64))


def merge_shards(shards: Sequence[Path], output: Path) -> int:
    """Join shard files of one layout into one file, lines in input order.

    RETURNS (int): Number of lines in the merged file.
    """
    layouts = set()
    for shard in shards:
        with h5py.File(shard, "r") as f:
            layouts.add(str(f.attrs.get("layout", "")))
    if len(layouts) != 1 or not layouts <= set(LAYOUTS):
        raise ValueError(f"Shards must share one layout of {LAYOUTS}, found {sorted(layouts)}")
    layout = layouts.pop()
    n_lines = 0
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as out:
        if layout == "per-line":
            mapping = {}
            for shard in shards:
                with h5py.File(shard, "r") as f:
                    for key in f:
                        if key != "sentence_to_index":
                            f.copy(f[key], out, name=key)
                            n_lines += 1
                    mapping.update(json.loads(f["sentence_to_index"][0]))
            out.create_dataset("sentence_to_index", data=[json.dumps(mapping)])
        else:
            entries: List[Tuple[int, int, int, int]] = []  # line, shard, start, end
            for s, shard in enumerate(shards):
                with h5py.File(shard, "r") as f:
                    offsets, lines = f["offsets"][()], f["line_index"][()]
                    for k, line in enumerate(lines):
                        entries.append((int(line), s, int(offsets[k]), int(offsets[k + 1])))
            entries.sort()
            writer = _ConcatWriter(out)
            files = [h5py.File(shard, "r") for shard in shards]
            try:
                for line, s, start, end in entries:
                    vectors = files[s]["vectors"]
                    data = vectors[start:end] if vectors.ndim == 2 else vectors[:, start:end]
                    writer.add(line, data)
            finally:
                for f in files:
                    f.close()
            writer.close()
            n_lines = len(entries)
        out.attrs["n_lines"] = n_lines
        out.attrs["layout"] = layout
    return n_lines
