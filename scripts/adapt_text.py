"""Write the text that adapts a pretrained biLM to a task: the task's training texts
(labels dropped) plus a sample of the pretraining text, optionally lowercased.

    python -m scripts.adapt_text corpus/polarity/train.jsonl corpus/polarity/dev.jsonl \
        corpus/pretrain/train.txt corpus/adapt_polarity --lowercase
    python -m scripts.adapt_text corpus/conll/train.spacy corpus/conll/dev.spacy \
        corpus/pretrain/train.txt corpus/adapt_conll

Task texts are read from `.jsonl` ({"text": ...} per line, as scripts/polarity.py
writes them), `.spacy` (each Doc's words joined by spaces) or `.txt` (one text per
line). Writes OUT_DIR/train.txt (the task's training texts --task-repeats times and
--general-lines lines of the pretraining text, shuffled) and OUT_DIR/heldout.txt (the
task's dev texts, to watch the adaptation). The test texts are never read. The ELMo
paper fine-tunes its biLM on the task's unlabelled text the same way; the general
text keeps it from forgetting the rest of English in a few hundred steps.
`--lowercase` lowercases the general text, for a task whose text is lowercased (the
polarity data) while the biLM was pretrained on cased text.
"""

import argparse
import json
import random
from pathlib import Path
from typing import List

from scripts.console import DataError, log, run_script
from scripts.files import atomic_write_lines


def read_texts(path: Path) -> List[str]:
    """One string per text of a .jsonl, .spacy or .txt file."""
    if not path.exists():
        raise DataError(f"{path} not found (run the task's corpus step first)")
    if path.suffix == ".spacy":
        import spacy
        from spacy.tokens import DocBin

        docs = DocBin().from_disk(path).get_docs(spacy.blank("en").vocab)
        return [" ".join(t.text for t in doc) for doc in docs]
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix != ".jsonl":
        return [line for line in lines if line.strip()]
    texts = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                texts.append(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError) as e:
                raise DataError(f"{path}:{i}: not a JSON object with a 'text' key") from e
    return texts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "task_train", help="the task's training texts: a file, or several joined by commas"
    )
    parser.add_argument("task_dev", type=Path, help="the task's dev texts (held-out)")
    parser.add_argument("general", type=Path, help="the pretraining text, one line each")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--general-lines", type=int, default=20000)
    parser.add_argument("--task-repeats", type=int, default=2)
    parser.add_argument("--lowercase", action="store_true", help="lowercase the general text")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    task = [text for path in args.task_train.split(",") for text in read_texts(Path(path))]
    dev = read_texts(args.task_dev)
    general = read_texts(args.general)
    rng = random.Random(args.seed)
    sample = rng.sample(general, min(args.general_lines, len(general)))
    if args.lowercase:
        sample = [line.lower() for line in sample]
    train = task * args.task_repeats + sample
    rng.shuffle(train)
    n = atomic_write_lines(args.out_dir / "train.txt", train)
    atomic_write_lines(args.out_dir / "heldout.txt", dev)
    words = sum(len(t.split()) for t in train)
    log(
        f"wrote {args.out_dir / 'train.txt'}: {n:,} lines, {words:,} words ({len(task):,} "
        f"task texts x {args.task_repeats}, {len(sample):,} general lines"
        f"{', lowercased' if args.lowercase else ''})"
    )
    log(f"wrote {args.out_dir / 'heldout.txt'}: {len(dev):,} dev texts")
    return 0


if __name__ == "__main__":
    run_script(main)
