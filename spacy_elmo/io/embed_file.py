"""Embed a text file, one sentence per line, into an hdf5 file (the AllenNLP
`elmo` command's format, or a scalable concatenated layout), and merge shards.

Every file records what made it in its attributes (`embed_record`): `layout`,
`n_lines`, `mode` (the stored layers), `shard` ("K/N": lines i with i % N == K;
"0/1" for a whole file), `input` and `input_sha256` (the text it was embedded
from), `weights_sha256` (the biLM), `tokenizer` and `spacy_elmo` (the version that
wrote it), so that `merge_shards` can require each shard of one input, made the
same way, exactly once.
"""

import json
from collections import deque
from itertools import islice
from pathlib import Path
from typing import (
    Callable,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Set,
    Tuple,
)

import h5py
import numpy as np

from ..bilm.scalar_mix import mix_layers
from .atomic import atomic_path
from .embedder import Tokens
from .hdf5_checks import check_hdf5_features

Reducer = Callable[[np.ndarray], np.ndarray]
LAYOUTS = ("per-line", "concat")
# The attributes that say what a file holds and what made it.
RECORD_KEYS = (
    "mode",
    "shard",
    "input",
    "input_sha256",
    "weights_sha256",
    "tokenizer",
    "spacy_elmo",
)
# What every shard of one merge must share, so that the merged file is what one
# unsharded run makes. --replace-errors need not be recorded: a run without it stops
# at the first bad line anywhere in the input (all lines are decoded, whatever the
# shard), so for one input both settings give the same text. Batch size, device and
# threads change vectors only by float rounding.
SAME_IN_EVERY_SHARD = (
    "layout",
    "input_sha256",
    "weights_sha256",
    "tokenizer",
    "mode",
    "spacy_elmo",
)
# Windows (in batches) of the first sentences, before `embed_sentences`'s own: the
# first vectors, and the progress bar, then come after one batch, not after 32.
FIRST_WINDOWS = (1, 2, 4, 8, 16)


class SentenceEmbedder(Protocol):
    """What the writer embeds with: an ElmoEmbedder, or workers on a cluster
    (spacy_elmo.scale.ray_embed.RayEmbedder)."""

    batch_size: int

    def embed_sentences(
        self, sentences: Iterable[Tokens], *, window: int = 32
    ) -> Iterator[np.ndarray]: ...


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


def embed_record(
    *,
    input_path: Path,
    input_sha256: str,
    weights_sha256: str,
    tokenizer: str,
    mode: str,
    shard: Tuple[int, int],
) -> Dict[str, str]:
    """The attributes that identify a file's content and what made it.

    input_path (Path): The input text (its name is kept).
    input_sha256 (str): The SHA-256 of the input's bytes.
    weights_sha256 (str): The biLM's checksum (as `info` prints it).
    tokenizer (str): "whitespace", or the spaCy pipeline and versions that tokenized.
    mode (str): The stored layers, e.g. "all" or "mix:0.2,0.3,0.5".
    shard (Tuple[int, int]): (K, N).
    RETURNS (Dict[str, str]): The record, for `embed_to_hdf5`'s `record`.
    """
    from .. import __version__

    return {
        "mode": mode,
        "shard": f"{shard[0]}/{shard[1]}",
        "input": input_path.name,
        "input_sha256": input_sha256,
        "weights_sha256": weights_sha256,
        "tokenizer": tokenizer,
        "spacy_elmo": __version__,
    }


def embed_to_hdf5(
    embedder: SentenceEmbedder,
    items: Iterable[Tuple[int, str, List[str]]],
    output: Path,
    *,
    reducer: Reducer,
    layout: str = "per-line",
    record: Optional[Callable[[], Mapping[str, str]]] = None,
    on_sentence: Optional[Callable[[], None]] = None,
) -> int:
    """Embed (line index, text, tokens) items into `output`, written to a temporary
    name and renamed when complete, so a killed run never leaves a partial file.

    layout (str): "per-line": one dataset per line keyed by its line index, plus
        `sentence_to_index` (AllenNLP's format: each stripped line -> its dataset
        key, a string; a blank line has a 0-token dataset and the key ""; that map
        is kept in memory); "concat": `vectors` (all tokens of all lines,
        concatenated on the token axis), `offsets` (n_lines + 1) and `line_index`:
        memory independent of the input size, and it scales to any number of lines.
    record (Optional[Callable[[], Mapping[str, str]]]): Gives the attributes that
        identify the content (`embed_record`), called once every item has been read,
        so that it may hold a checksum of the input taken as it was read;
        `merge_shards` needs them.
    on_sentence (Optional[Callable[[], None]]): Called as each sentence is written
        (a progress bar).
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
        n_lines = _write(embedder, tokens_of(pending), pending, tmp, reducer, layout, on_sentence)
        with h5py.File(tmp, "a") as f:
            f.attrs.update(dict(record() if record is not None else {}))
    return n_lines


def _write(
    embedder: SentenceEmbedder,
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
        for layers in _embed_soon(embedder, sentences):
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
            _write_sentence_index(f, {text.strip(): str(index) for index, text in texts})
        else:
            writer.close()
        f.attrs["n_lines"] = n_lines
        f.attrs["layout"] = layout
    return n_lines


def _embed_soon(embedder: SentenceEmbedder, sentences: Iterator[List[str]]) -> Iterator[np.ndarray]:
    """`embedder.embed_sentences`, with the first sentences in growing windows
    (FIRST_WINDOWS), so that the first vectors come after one batch."""
    for window in FIRST_WINDOWS:
        first = list(islice(sentences, embedder.batch_size * window))
        yield from embedder.embed_sentences(first, window=window)
    yield from embedder.embed_sentences(sentences)


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


def _write_sentence_index(f: h5py.File, mapping: Mapping[str, str]) -> None:
    """AllenNLP's `sentence_to_index`: one JSON string, sentence -> dataset key."""
    f.create_dataset("sentence_to_index", data=[json.dumps(mapping)])


def _read_sentence_index(f: h5py.File) -> Dict[str, str]:
    """A file's `sentence_to_index`, with string keys (files written before they were
    strings held integers)."""
    return {k: str(v) for k, v in json.loads(f["sentence_to_index"][0]).items()}


def merge_shards(shards: Sequence[Path], output: Path) -> int:
    """Join the shards of one input into one file, lines in input order.

    Each shard must have been made the same way (SAME_IN_EVERY_SHARD: one input,
    biLM, tokenizer, layout, layers and spacy-elmo version) and each shard K of N
    must be given exactly once. A file without that record (written by a version
    before spacy-elmo recorded it) is refused: what made it cannot be checked.

    shards (Sequence[Path]): The files `embed --shard` wrote.
    output (Path): The file to write; it keeps the shards' record, as shard "0/1".
    RETURNS (int): Number of lines in the merged file.
    """
    layout, attrs = _check_shards(shards)
    n_lines = 0
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as out:
        if layout == "per-line":
            pairs: List[Tuple[str, str]] = []
            for shard in shards:
                with h5py.File(shard, "r") as f:
                    for key in f:
                        if key != "sentence_to_index":
                            f.copy(f[key], out, name=key)
                            n_lines += 1
                    pairs.extend(_read_sentence_index(f).items())
            # In line order, so a repeated sentence maps to its last line, as unsharded.
            pairs.sort(key=lambda pair: int(pair[1]))
            _write_sentence_index(out, dict(pairs))
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
        out.attrs.update(attrs)
        out.attrs["n_lines"] = n_lines
        out.attrs["layout"] = layout
    return n_lines


def _check_shards(shards: Sequence[Path]) -> Tuple[str, Dict[str, str]]:
    """Check that the shards make one whole file: each made the same way, each shard
    once, no line twice. RETURNS the layout and the merged file's record."""
    attrs: Dict[Path, Dict[str, str]] = {}
    lines: Dict[Path, Set[int]] = {}
    for shard in shards:
        try:
            with h5py.File(shard, "r") as f:
                check_hdf5_features(f, str(shard))
                attrs[shard] = {k: str(v) for k, v in f.attrs.items()}
                lines[shard] = _line_indices(f, attrs[shard].get("layout", ""))
        except (OSError, KeyError) as e:
            raise ValueError(f"{shard}: not a file written by `embed` ({e})") from None
        missing = [key for key in ("layout", *RECORD_KEYS) if key not in attrs[shard]]
        if missing:
            raise ValueError(
                f"{shard}: no record of {', '.join(missing)} (written by an older "
                "spacy-elmo, or not by `embed`), so what made it cannot be checked: "
                "embed it again"
            )
    first = shards[0]
    for shard in shards[1:]:
        for key in SAME_IN_EVERY_SHARD:
            if attrs[shard][key] != attrs[first][key]:
                raise ValueError(
                    f"{first} and {shard} differ in {key} ({attrs[first][key]!r} vs "
                    f"{attrs[shard][key]!r}): merge only shards embedded from one input "
                    "the same way"
                )
    record = _whole_record(shards, attrs)
    seen: Dict[int, Path] = {}
    for shard in shards:
        for line in lines[shard]:
            if line in seen:
                raise ValueError(
                    f"Line {line} is in both {seen[line]} and {shard}: give each shard once"
                )
            seen[line] = shard
    return attrs[first]["layout"], record


def _whole_record(shards: Sequence[Path], attrs: Dict[Path, Dict[str, str]]) -> Dict[str, str]:
    """The record of the merged file, after checking each shard K/N is there once."""
    # A list, not a dict: the same file given twice must count twice.
    parts: List[Tuple[Path, int, int]] = []
    for shard in shards:
        k, n = (int(x) for x in attrs[shard]["shard"].split("/"))
        parts.append((shard, k, n))
    totals = {n for _, _, n in parts}
    if len(totals) != 1:
        raise ValueError(
            f"The shards come from different --shard K/N splits: N in {sorted(totals)}"
        )
    n = totals.pop()
    found: Dict[int, Path] = {}
    for shard, k, _ in parts:
        if k in found:
            raise ValueError(f"Shard {k}/{n} is given twice: {found[k]} and {shard}")
        found[k] = shard
    missing = [f"{k}/{n}" for k in range(n) if k not in found]
    if missing:
        raise ValueError(f"Shards missing: {', '.join(missing)} (of {n})")
    return {**{key: attrs[shards[0]][key] for key in RECORD_KEYS}, "shard": "0/1"}


def _line_indices(f: h5py.File, layout: str) -> Set[int]:
    """The input lines a file holds."""
    if layout == "concat":
        return {int(i) for i in f["line_index"][()]}
    return {int(k) for k in f if k != "sentence_to_index"}
