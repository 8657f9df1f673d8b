"""Writing the steps' files whole or not at all: lines of text, JSON, spaCy DocBins."""

import json
from pathlib import Path
from typing import Any, Iterable, Optional

from spacy_elmo.io.atomic import atomic_path


def atomic_write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write lines (newline-terminated, UTF-8) to path, whole or not at all.
    RETURNS (int): lines written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line)
            f.write("\n")
            n += 1
    return n


def write_json(path: Path, data: Any, indent: Optional[int] = 2) -> None:
    """Write data as JSON (parent folders created), whole or not at all.

    path (Path): the file to write.
    data (Any): what to write.
    indent (Optional[int]): spaces per level; None writes one line (long lists of numbers).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=indent) + "\n", encoding="utf-8")


def save_docbin(db, path: Path) -> None:
    """Write a spaCy DocBin to path, whole or not at all (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        db.to_disk(tmp)
