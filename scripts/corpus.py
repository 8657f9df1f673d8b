"""What the corpus steps share: whitespace squashing, and labelled texts for text
classification (exclusive POS / NEG cats) kept once and written as JSONL."""

import json
import re
from pathlib import Path
from typing import Dict, List, Tuple

from scripts.files import atomic_write_lines

Example = Tuple[str, str]  # (text, "POS" | "NEG")

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    """Collapse all whitespace (newlines, tabs, non-breaking spaces) to single spaces."""
    return _WS.sub(" ", text).strip()


def cats_for(label: str) -> Dict[str, float]:
    """The exclusive `doc.cats` of a label: {"POS": 1.0, "NEG": 0.0} or the reverse."""
    return {"POS": float(label == "POS"), "NEG": float(label == "NEG")}


def dedupe(examples: List[Example]) -> Tuple[List[Example], int, int]:
    """Keep each text once; drop texts that occur with both labels.
    RETURNS (Tuple[List, int, int]): kept examples, repeats dropped, conflicting texts."""
    labels: Dict[str, set] = {}
    for t, lab in examples:
        labels.setdefault(t, set()).add(lab)
    seen = set()
    kept: List[Example] = []
    repeats = 0
    for t, lab in examples:
        if len(labels[t]) > 1:
            continue
        if t in seen:
            repeats += 1
            continue
        seen.add(t)
        kept.append((t, lab))
    conflicts = sum(1 for v in labels.values() if len(v) > 1)
    return kept, repeats, conflicts


def write_examples_jsonl(examples: List[Example], path: Path) -> int:
    """Write {"text", "label", "cats"} per line, for reading. RETURNS (int): lines."""
    return atomic_write_lines(
        path,
        (
            json.dumps({"text": t, "label": lab, "cats": cats_for(lab)}, ensure_ascii=False)
            for t, lab in examples
        ),
    )
