"""What the corpus steps share: their command-line options and the rule that a finished
step is skipped, whitespace squashing, and labelled texts for text classification
(exclusive cats, POS / NEG unless a step names its own pair) read from `"label","text"`
CSV, kept once, split and written per split as a DocBin and as JSONL."""

import argparse
import csv
import io
import json
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Sequence, Tuple

from scripts.console import DataError, log
from scripts.files import atomic_write_lines, save_docbin

if TYPE_CHECKING:
    from spacy.tokens import Doc

Example = Tuple[str, str]  # (text, label), e.g. (..., "POS")
POLARITY = ("POS", "NEG")
SPLITS = ("train", "dev", "test")

_WS = re.compile(r"\s+")

# Texts -> their Docs, in order (e.g. `nlp.pipe` of a blank pipeline).
MakeDocs = Callable[[Iterable[str]], Iterable["Doc"]]


def blank_docs(lang: str) -> MakeDocs:
    """Texts -> their Docs, tokenized by spaCy's blank pipeline for `lang`."""

    def make_docs(texts: Iterable[str]) -> Iterable["Doc"]:
        import spacy

        return spacy.blank(lang).pipe(texts)

    return make_docs


def corpus_arguments(description: str, out_dir: str, seed: bool = True) -> argparse.ArgumentParser:
    """The options every corpus step takes: --download-dir, --out-dir, --force and,
    where the step samples or splits, --seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--download-dir", type=Path, default=Path("assets/dl"), help="package downloads"
    )
    parser.add_argument("--out-dir", type=Path, default=Path(out_dir))
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="split and sample seed")
    parser.add_argument("--force", action="store_true", help="rebuild existing outputs")
    return parser


def outputs_exist(step: str, out: Path, force: bool) -> bool:
    """Whether the step is done: its stats.json, written after every other output,
    exists and --force was not given. Says so when it skips."""
    if force or not (out / "stats.json").exists():
        return False
    log(f"{step}: outputs exist in {out} (use --force to rebuild)")
    return True


def squash(text: str) -> str:
    """Collapse all whitespace (newlines, tabs, non-breaking spaces) to single spaces."""
    return _WS.sub(" ", text).strip()


def cats_for(label: str, labels: Sequence[str] = POLARITY) -> Dict[str, float]:
    """The exclusive `doc.cats` of a label: {"POS": 1.0, "NEG": 0.0} or the reverse."""
    return {name: float(label == name) for name in labels}


def parse_labelled_csv(text: str, labels: Dict[str, str], source: str = "<csv>") -> List[Example]:
    """Read a `"label","text"` CSV (BOM tolerated) into (text, label) pairs, the CSV's
    label mapped by `labels` (e.g. {"1": "POS", "-1": "NEG"}), text whitespace-squashed.

    text (str): the CSV file's content.
    labels (Dict[str, str]): the CSV's labels and their names.
    source (str): name used in error messages.
    RETURNS (List[Tuple[str, str]]): the examples in file order.
    """
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    out: List[Example] = []
    for i, row in enumerate(rows, 1):
        if not row:
            continue
        if len(row) != 2 or row[0].strip() not in labels:
            known = "/".join(labels)
            raise DataError(f"{source}: record {i} is not (label in {known}, text): {row!r:.200}")
        sent = squash(row[1])
        if sent:
            out.append((sent, labels[row[0].strip()]))
    return out


def stratified_split(
    examples: List[Example], fractions=(0.8, 0.1, 0.1), seed: int = 0
) -> Dict[str, List[Example]]:
    """Seeded split keeping each label's share in every part; each part shuffled.

    RETURNS (Dict[str, List[Tuple[str, str]]]): train/dev/test examples.
    """
    rng = random.Random(seed)
    parts: Dict[str, List[Example]] = {s: [] for s in SPLITS}
    for lab in sorted({lab for _, lab in examples}):
        group = [e for e in examples if e[1] == lab]
        rng.shuffle(group)
        n_train = round(fractions[0] * len(group))
        n_dev = round(fractions[1] * len(group))
        parts["train"] += group[:n_train]
        parts["dev"] += group[n_train : n_train + n_dev]
        parts["test"] += group[n_train + n_dev :]
    for s in SPLITS:
        rng.shuffle(parts[s])
    return parts


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


def write_examples_jsonl(
    examples: List[Example], path: Path, labels: Sequence[str] = POLARITY
) -> int:
    """Write {"text", "label", "cats"} per line, for reading. RETURNS (int): lines."""
    return atomic_write_lines(
        path,
        (
            json.dumps({"text": t, "label": lab, "cats": cats_for(lab, labels)}, ensure_ascii=False)
            for t, lab in examples
        ),
    )


def write_textcat_splits(
    parts: Dict[str, List[Example]], out: Path, make_docs: MakeDocs, labels: Sequence[str]
) -> Dict[str, Dict[str, int]]:
    """Write each split as `{split}.spacy` (Docs with their exclusive cats) and
    `{split}.jsonl`, and log its counts.

    parts (Dict[str, List[Tuple[str, str]]]): train/dev/test examples.
    out (Path): the directory written to.
    make_docs (Callable): the texts' Docs, tokenized as the task reads them.
    labels (Sequence[str]): the label names, e.g. ("POS", "NEG").
    RETURNS (Dict[str, Dict[str, int]]): per split: docs, each label's count, tokens.
    """
    from spacy.tokens import DocBin

    stats: Dict[str, Dict[str, int]] = {}
    for split in SPLITS:
        examples = parts[split]
        db = DocBin(store_user_data=False)
        n_tokens = 0
        for doc, (_, label) in zip(make_docs(t for t, _ in examples), examples):
            doc.cats = cats_for(label, labels)
            n_tokens += len(doc)
            db.add(doc)
        save_docbin(db, out / f"{split}.spacy")
        write_examples_jsonl(examples, out / f"{split}.jsonl", labels)
        by_label = {name: sum(lab == name for _, lab in examples) for name in labels}
        stats[split] = {"docs": len(examples), **by_label, "tokens": n_tokens}
        log(f"  {split}: {len(examples):,} docs {by_label}, {n_tokens:,} tokens")
    return stats
