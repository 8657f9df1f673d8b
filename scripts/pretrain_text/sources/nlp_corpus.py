"""The `nlp_corpus` source: the npm package nlp-corpus 4.4.0, one sentence per line
(it asks not to be republished).
"""

import json
import re
from pathlib import Path
from typing import Iterator

from scripts.console import DataError
from scripts.fetch import npm_pack, tar_texts
from scripts.pretrain_text.clean import Doc, normalize_doc


def read_docs(dl: Path) -> Iterator[Doc]:
    """The nlp-corpus sentences: one document per sentence.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    tgz = npm_pack("nlp-corpus@4.4.0", dl)
    if tgz is None:
        return
    n = 0
    for name, text in tar_texts(
        tgz, lambda m: re.fullmatch(r"package/builds/doc-\d+\.json", m) is not None
    ):
        n += 1
        try:
            sents = json.loads(text)
        except ValueError as e:
            raise DataError(f"{tgz.name}!{name}: not JSON ({e})") from e
        for s in sents:
            doc = normalize_doc([s]) if isinstance(s, str) else []
            if doc:
                yield doc
    if n == 0:
        raise DataError(f"{tgz.name}: no package/builds/doc-*.json")
