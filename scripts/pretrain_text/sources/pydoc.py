"""The `pydoc` source: the reST sources of the Debian package python3.11-doc, prose only
(code, literal blocks, tables, directives, targets and headings dropped).
"""

import re
from pathlib import Path
from typing import Iterator, List, Optional

from scripts.console import DataError
from scripts.corpus import squash
from scripts.fetch import apt_deb, deb_extract
from scripts.pretrain_text.clean import Doc, normalize_doc

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


def read_docs(dl: Path) -> Iterator[Doc]:
    """The Python documentation: one document per reST source file.

    dl (Path): the download folder (fetched there unless present).
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
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
