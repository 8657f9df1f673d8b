"""Write the text that adapts a cased biLM to a lowercased task: the task's training
texts (labels dropped) plus a lowercased sample of the pretraining text.

    python scripts/adapt_text.py corpus/polarity corpus/pretrain/train.txt \
        corpus/adapt --general-lines 20000 --task-repeats 2 --seed 0

Reads DATA_DIR/train.jsonl and dev.jsonl (one {"text": ...} per line, as
scripts/polarity.py writes them) and the pretraining text (one sentence per line).
Writes OUT_DIR/train.txt (the task's training texts --task-repeats times and
--general-lines lowercased pretraining lines, shuffled) and OUT_DIR/heldout.txt (the
task's dev texts). The test texts are never read. The ELMo paper fine-tunes its biLM
on the task's unlabelled text the same way; the general text keeps it from
forgetting the rest of English in a few hundred steps.
"""

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DataError, atomic_write_lines, log, run_script  # noqa: E402


def read_texts(path: Path):
    if not path.exists():
        raise DataError(f"{path} not found (run the corpus-textcat step first)")
    texts = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                texts.append(json.loads(line)["text"])
            except (ValueError, KeyError) as e:
                raise DataError(f"{path}:{i}: not a JSON object with a 'text' key") from e
    return texts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="holds train.jsonl and dev.jsonl")
    parser.add_argument("general", type=Path, help="the pretraining text, one line each")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--general-lines", type=int, default=20000)
    parser.add_argument("--task-repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    task = read_texts(args.data_dir / "train.jsonl")
    dev = read_texts(args.data_dir / "dev.jsonl")
    if not args.general.exists():
        raise DataError(f"{args.general} not found (run the corpus-pretrain step first)")
    general = [ln for ln in args.general.read_text(encoding="utf-8").splitlines() if ln.strip()]
    rng = random.Random(args.seed)
    sample = [ln.lower() for ln in rng.sample(general, min(args.general_lines, len(general)))]
    train = task * args.task_repeats + sample
    rng.shuffle(train)
    n = atomic_write_lines(args.out_dir / "train.txt", train)
    atomic_write_lines(args.out_dir / "heldout.txt", dev)
    words = sum(len(t.split()) for t in train)
    log(
        f"wrote {args.out_dir / 'train.txt'}: {n:,} lines, {words:,} words "
        f"({len(task):,} task texts x {args.task_repeats}, {len(sample):,} general lines)"
    )
    log(f"wrote {args.out_dir / 'heldout.txt'}: {len(dev):,} dev texts")
    return 0


if __name__ == "__main__":
    run_script(main)
