"""The cross-validation split of a labelled corpus: seeded, stratified folds, and each
fold's train / dev / test roles.

    python -m scripts.folds corpus/polarity corpus/polarity_folds --folds 10 --fold-seed 0

The Docs of DATA/{train,dev,test}.spacy are pooled and split into --folds folds,
stratified by label and seeded by --fold-seed, so every model compared with the same
data, folds and seed sees the same folds. Fold k tests on its own texts, chooses its
model on fold k+1 (dev, mod K) and trains on the other K-2 folds: OUT/fold<k>/
{train,dev,test}.spacy. A fold's test.spacy holds exactly the texts of that fold.
"""

import argparse
import random
from pathlib import Path
from typing import Dict, List

from scripts.console import run_script
from scripts.files import save_docbin

SPLITS = ("train", "dev", "test")


def assign_folds(labels: List[str], k: int, seed: int) -> List[int]:
    """A fold for every item: each label's items shuffled (seeded) and dealt out in
    turn, so every fold holds each label's share to within one item."""
    if k < 3:
        raise ValueError(f"--folds must be at least 3 (train, dev and test), got {k}")
    rng = random.Random(seed)
    folds = [0] * len(labels)
    offset = 0
    for label in sorted(set(labels)):
        members = [i for i, lab in enumerate(labels) if lab == label]
        rng.shuffle(members)
        for j, i in enumerate(members):
            folds[i] = (offset + j) % k
        offset += len(members)
    return folds


def fold_roles(fold: int, k: int) -> Dict[str, List[int]]:
    """Which folds are train, dev and test for fold `fold`."""
    dev = (fold + 1) % k
    return {"test": [fold], "dev": [dev], "train": [f for f in range(k) if f not in (fold, dev)]}


def write_folds(data: Path, out: Path, k: int, seed: int) -> List[Path]:
    """Write OUT/fold<k>/{train,dev,test}.spacy (unless present) and return the folders."""
    import spacy
    from spacy.tokens import DocBin

    dirs = [out / f"fold{f}" for f in range(k)]
    if all((d / f"{s}.spacy").exists() for d in dirs for s in SPLITS):
        return dirs
    vocab = spacy.blank("xx").vocab
    docs = [doc for s in SPLITS for doc in DocBin().from_disk(data / f"{s}.spacy").get_docs(vocab)]
    labels = [max(doc.cats, key=doc.cats.get) if doc.cats else "" for doc in docs]
    if not all(labels):
        raise ValueError(f"{data}: every Doc needs doc.cats for cross-validation")
    folds = assign_folds(labels, k, seed)
    for f, directory in enumerate(dirs):
        for split, members in fold_roles(f, k).items():
            db = DocBin(store_user_data=False)
            for doc, fold in zip(docs, folds):
                if fold in members:
                    db.add(doc)
            save_docbin(db, directory / f"{split}.spacy")
    return dirs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="folder with the .spacy splits")
    parser.add_argument("out", type=Path, help="folder for fold<k>/{train,dev,test}.spacy")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--fold-seed", type=int, default=0, help="seed of the fold split")
    args = parser.parse_args(argv)
    dirs = write_folds(args.data, args.out, args.folds, args.fold_seed)
    print(f"[folds.py] {len(dirs)} folds in {args.out}")
    return 0


if __name__ == "__main__":
    run_script(main)
