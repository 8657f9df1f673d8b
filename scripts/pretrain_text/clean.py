"""The cleaning every pretraining source shares: mojibake and control characters
repaired, whitespace squashed, over-long paragraphs cut, headings and Project
Gutenberg boilerplate recognised.
"""

import re
from typing import Iterable, List

from scripts.corpus import squash

Doc = List[str]  # a document: its paragraphs, in order

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
