"""The `wiki` source: the Wikipedia excerpt in the PyPI wheel gensim 4.4.0's test data;
markup, templates, tables, lists and reference sections dropped, links -> their text.
"""

import html
import io
import re
import zipfile
from pathlib import Path
from typing import Iterator, Tuple

from scripts.console import DataError
from scripts.fetch import pip_download
from scripts.pretrain_text.clean import Doc, normalize_doc

_WIKI_DROP_SECTIONS = {
    "see also",
    "references",
    "external links",
    "further reading",
    "notes",
    "bibliography",
    "sources",
    "footnotes",
    "citations",
}
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_NON_ARTICLE_LINK = re.compile(
    r"^\s*:?\s*(file|image|category|media|[a-z]{2,3}(-[a-z]+)?)\s*:", re.I
)


def _sub_nested(pattern: re.Pattern, repl, text: str) -> str:
    while True:
        new = pattern.sub(repl, text)
        if new == text:
            return new
        text = new


def _link_text(m: re.Match) -> str:
    inner = m.group(1)
    if _NON_ARTICLE_LINK.match(inner):
        return ""
    return inner.split("|")[-1] if "|" in inner else inner


def clean_wikitext(text: str) -> Doc:
    """Plain paragraphs from wiki markup: comments, <ref>s, templates, tables,
    files/images/categories and interlanguage links, headings, lists, indented
    lines and the reference sections at the end are dropped; links become their
    text; bold/italic quotes and remaining HTML tags are removed."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<ref[^>/]*/>", "", text)
    text = re.sub(r"<ref[^>]*>.*?</ref>", "", text, flags=re.S | re.I)
    text = re.sub(
        r"<(gallery|math|timeline|score|syntaxhighlight|source|pre|code)[^>]*>.*?</\1>",
        "",
        text,
        flags=re.S | re.I,
    )
    text = _sub_nested(re.compile(r"\{\{[^{}]*\}\}"), "", text)
    text = _sub_nested(re.compile(r"\{\|(?:(?!\{\|).)*?\|\}", re.S), "", text)
    text = _sub_nested(_LINK, _link_text, text)
    text = re.sub(r"\[(?:https?:)?//[^\s\]]+\s+([^\]]*)\]", r"\1", text)
    text = re.sub(r"\[(?:https?:)?//[^\s\]]+\]", "", text)
    text = re.sub(r"'{2,}", "", text)
    text = re.sub(r"</?[a-zA-Z][^>]*>", "", text)
    text = html.unescape(text)
    paras: Doc = []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        heading = re.fullmatch(r"(=+)\s*(.*?)\s*\1", s)
        if heading:
            if heading.group(2).lower() in _WIKI_DROP_SECTIONS:
                break
            continue
        if s[0] in "*#:;|!{}" or s.startswith("__") or s.lower().startswith("#redirect"):
            continue
        s = re.sub(r"\(\s*[,;]?\s*\)", "", s)  # "()" left by removed templates
        s = re.sub(r"\s+([,.;:])", r"\1", s)
        if len(s.split()) < 5:
            continue
        paras.append(s)
    return normalize_doc(paras)


def wiki_pages(data: bytes) -> Iterator[Tuple[str, str]]:
    """(title, wikitext) of the main-namespace, non-redirect pages of a dump."""
    import xml.etree.ElementTree as ET

    title, ns, body = "", "", ""
    for _event, elem in ET.iterparse(io.BytesIO(data)):
        tag = elem.tag.rsplit("}", 1)[-1]
        if tag == "title":
            title = elem.text or ""
        elif tag == "ns":
            ns = elem.text or ""
        elif tag == "text":
            body = elem.text or ""
        elif tag == "page":
            if ns == "0" and not body.lstrip().lower().startswith("#redirect"):
                yield title, body
            elem.clear()


GENSIM = ("gensim", "4.4.0")
WIKI_MEMBER = (
    "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
)


def read_docs(dl: Path) -> Iterator[Doc]:
    """The Wikipedia pages: one document per main-namespace page.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    import bz2

    wheel = pip_download(*GENSIM, dl)
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = bz2.decompress(zf.read(WIKI_MEMBER))
    except KeyError as e:
        raise DataError(f"{wheel.name}: missing {WIKI_MEMBER}") from e
    for _title, body in wiki_pages(data):
        doc = clean_wikitext(body)
        if doc:
            yield doc
