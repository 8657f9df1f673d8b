"""Writing the steps' files whole or not at all: lines of text, JSON, spaCy DocBins."""

import json
from pathlib import Path
from typing import Any, Iterable

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


def write_json(path: Path, data: Any) -> None:
    """Write data as indented JSON (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def save_docbin(db, path: Path) -> None:
    """Write a spaCy DocBin to path, whole or not at all (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        db.to_disk(tmp)
