"""Text as the biLM reads it: the lines of a text file, and which tokens it reads."""

import codecs
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol, Tuple


class _Token(Protocol):
    @property
    def is_space(self) -> bool: ...


class _Digest(Protocol):
    def update(self, data: bytes, /) -> Any: ...


def is_bilm_token(token: _Token) -> bool:
    """Whether the biLM reads a spaCy token: every token but whitespace tokens, which
    get zero vectors. The component, pretraining and the CLI all cut text this way.
    """
    return not token.is_space


def read_lines(
    path: Path,
    *,
    replace_errors: bool = False,
    hint: str = "pass --replace-errors to replace undecodable bytes",
    digest: Optional[_Digest] = None,
) -> Iterator[Tuple[int, str]]:
    """(line index, text) for each line, decoded as UTF-8, newline stripped, without
    the byte-order mark an editor may put at the start of the file. The file is
    opened and read once, so it may be a pipe.

    replace_errors (bool): Replace undecodable bytes instead of raising.
    hint (str): What the error message tells the user to do about a bad line.
    digest (Optional[hashlib hash]): Updated with every byte read (BOM included), so
        that the caller can checksum the input in the same pass.
    """
    with path.open("rb") as f:
        for i, raw in enumerate(f):
            if digest is not None:
                digest.update(raw)
            if i == 0 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                text = raw.decode("utf8", errors="replace" if replace_errors else "strict")
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"{path}, line {i + 1}: not valid UTF-8 ({e.reason} at byte {e.start}); " + hint
                ) from None
            yield i, text.rstrip("\r\n")
