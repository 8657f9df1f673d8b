"""Raw text -> tokenised sentences, in the units the `elmo` component later reads.

Text files hold one sentence or paragraph per line. A spaCy pipeline splits them
into sentences and tokens, and whitespace tokens are left out by the component's own
rule (`is_bilm_token`), so pretraining sees exactly the tokens the component will
see. The result is kept as a type table plus an int32 array of type ids, so millions
of tokens fit in a few tens of MB and load in a moment.
"""

import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Sequence

import numpy as np
from spacy.language import Language

from ..io.atomic import atomic_path
from ..io.text import is_bilm_token, read_lines

SENTENCE_COMPONENTS = ("sentencizer", "senter", "parser")


# The files `TokenizedText.to_disk` writes into its directory.
TYPES_FILE = "types.json"
TOKENS_FILE = "tokens.npz"
# Beside them, written by `update_tokenized`: what they were tokenised from.
SOURCE_FILE = "source.json"


class TokenizedText:
    """Sentences as ids into a table of token strings (types).

    types (List[str]): Distinct token strings.
    ids (np.ndarray): int32 type id of every token, sentences one after another.
    starts (np.ndarray): int64 (n_sentences + 1,) offsets of the sentences in `ids`.
    """

    def __init__(self, types: List[str], ids: np.ndarray, starts: np.ndarray) -> None:
        self.types = types
        self.ids = ids
        self.starts = starts

    @property
    def n_sentences(self) -> int:
        return len(self.starts) - 1

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    def counts(self) -> np.ndarray:
        """Occurrences of every type (int64, aligned with `types`)."""
        return np.bincount(self.ids, minlength=len(self.types)).astype(np.int64)

    def sentence(self, i: int) -> List[str]:
        return [self.types[t] for t in self.ids[self.starts[i] : self.starts[i + 1]]]

    def to_disk(self, path: Path) -> None:
        """Write `types.json` and `tokens.npz` into the directory `path`."""
        path.mkdir(parents=True, exist_ok=True)
        with atomic_path(path / TYPES_FILE) as tmp:
            tmp.write_text(json.dumps(self.types, ensure_ascii=False), encoding="utf8")
        with atomic_path(path / TOKENS_FILE) as tmp:
            with tmp.open("wb") as f:
                np.savez(f, ids=self.ids, starts=self.starts)

    @classmethod
    def from_disk(cls, path: Path) -> "TokenizedText":
        types = json.loads((path / TYPES_FILE).read_text(encoding="utf8"))
        with np.load(path / TOKENS_FILE) as data:
            return cls(types, data["ids"], data["starts"])


def update_tokenized(
    path: Path, files: Sequence[Path], spacy_model: str, log: Callable[[str], None]
) -> None:
    """Tokenise `files` into the directory `path`, unless it already holds them
    tokenised by the same pipeline from the same files (names, sizes and times)."""
    stamp = {
        "files": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
        "spacy_model": spacy_model,
    }
    if _read_json(path / SOURCE_FILE) == stamp:
        return
    log(f"Tokenising {path.name} text ({len(files)} files) with {spacy_model}")
    tokenize_files(files, sentence_pipeline(spacy_model)).to_disk(path)
    with atomic_path(path / SOURCE_FILE) as tmp:
        tmp.write_text(json.dumps(stamp))


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def sentence_pipeline(name: str) -> Language:
    """Load the spaCy pipeline that tokenises the text ('blank:LANG' or a package or
    path), adding a sentencizer when nothing in it sets sentence boundaries.

    RETURNS (Language): The pipeline.
    """
    import spacy

    if name.startswith("blank:"):
        nlp = spacy.blank(name.split(":", 1)[1])
    else:
        nlp = spacy.load(name)
    if not any(factory in SENTENCE_COMPONENTS for factory in _factories(nlp)):
        nlp.add_pipe("sentencizer")
    return nlp


def _factories(nlp: Language) -> List[str]:
    return [nlp.get_pipe_meta(name).factory for name in nlp.pipe_names]


def tokenize_files(
    paths: Sequence[Path], nlp: Language, *, batch_size: int = 256, log_every: float = 30.0
) -> TokenizedText:
    """Split and tokenise every non-empty line of the files.

    paths (Sequence[Path]): UTF-8 text files.
    nlp (Language): A pipeline that sets sentence boundaries (`sentence_pipeline`).
    RETURNS (TokenizedText): The sentences; an error names a file that is missing,
        not UTF-8 (with its line) or holds no tokens.
    """
    index: Dict[str, int] = {}
    ids: List[int] = []
    starts: List[int] = [0]
    started = time.perf_counter()
    last_log = started
    total_bytes = sum(_checked(p).stat().st_size for p in paths)
    done_bytes = 0
    for doc in nlp.pipe(_texts(paths), batch_size=batch_size):
        done_bytes += len(doc.text.encode("utf8")) + 1
        for sent in doc.sents:
            tokens = [t.text for t in sent if is_bilm_token(t)]
            if not tokens:
                continue
            ids.extend(index.setdefault(t, len(index)) for t in tokens)
            starts.append(len(ids))
        now = time.perf_counter()
        if now - last_log > log_every:
            last_log = now
            rate = len(ids) / (now - started)
            eta = (total_bytes - done_bytes) / max(done_bytes, 1) * (now - started)
            print(
                f"  tokenised {len(ids):,} tokens ({rate:,.0f} tok/s, "
                f"{100 * done_bytes / max(total_bytes, 1):.0f}%, ETA {eta:.0f} s)",
                flush=True,
            )
    if not ids:
        names = ", ".join(str(p) for p in paths)
        raise ValueError(f"No tokens in the input text ({names}): every line is empty")
    return TokenizedText(
        list(index), np.asarray(ids, dtype=np.int32), np.asarray(starts, dtype=np.int64)
    )


def _checked(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"Text file not found: {path}")
    return path


def _texts(paths: Iterable[Path]) -> Iterator[str]:
    for path in paths:
        for _, line in read_lines(path, hint="fix or remove that line"):
            if line.strip():
                yield line


def text_files(spec: str) -> List[Path]:
    """Files named by a path: a file, or every `*.txt` file of a directory (sorted).

    RETURNS (List[Path]): The files; an error if there are none.
    """
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise FileNotFoundError(f"No .txt files in directory {path}")
        return files
    return [_checked(path)]
