"""The smoke workflow's corpus: the tiny data in assets/smoke -> the same files the real
corpus steps write, through the same parsing and writing code.

Inputs (written for this project, shipped in the repository; nothing is downloaded):
  assets/smoke/conll/{train,dev,test}.txt  CoNLL-2003 format (word POS chunk NER, IOB2,
                                           -DOCSTART- lines); the POS and chunk columns
                                           are placeholders, only words and NER tags count
  assets/smoke/polarity.csv                "label","text" with labels 1 / -1, lowercased,
                                           like the Pang & Lee file
  assets/smoke/text.txt                    raw English prose, one paragraph per line

Outputs (in --out-dir):
  conll/{train,dev,test}.spacy, conll/train.text.txt   as scripts.conll2003 writes them
  polarity/{train,dev,test}.{spacy,jsonl}              as scripts.polarity (seeded 80/10/10)
  pretrain/train.txt, pretrain/heldout.txt             text.txt's lines (every 10th held out)
                                                       plus the CoNLL training text, as
                                                       scripts.pretrain_text mixes it in
"""

import argparse
from pathlib import Path

from scripts.conll2003 import parse_conll, to_docbin
from scripts.console import DataError, log, run_script
from scripts.corpus import POLARITY, dedupe, stratified_split, write_textcat_splits
from scripts.files import atomic_write_lines
from scripts.polarity import make_docs, parse_polarity_csv


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-dir", type=Path, default=Path("assets/smoke"))
    parser.add_argument("--out-dir", type=Path, default=Path("corpus/smoke"))
    parser.add_argument("--seed", type=int, default=0, help="polarity split seed")
    args = parser.parse_args(argv)
    src: Path = args.in_dir
    out: Path = args.out_dir

    train_text = []
    for split in ("train", "dev", "test"):
        path = src / "conll" / f"{split}.txt"
        sents = parse_conll(path.read_text(encoding="utf-8").splitlines(), str(path))
        if not sents:
            raise DataError(f"{path}: no sentences")
        n_ents = to_docbin(sents, out / "conll" / f"{split}.spacy")
        log(f"  conll {split}: {len(sents)} sentences, {n_ents} entities")
        if split == "train":
            train_text = [" ".join(words) for words, _ in sents]
    atomic_write_lines(out / "conll" / "train.text.txt", train_text)

    csv_path = src / "polarity.csv"
    examples, _, _ = dedupe(parse_polarity_csv(csv_path.read_text(encoding="utf-8"), str(csv_path)))
    log("  polarity:")
    parts = stratified_split(examples, seed=args.seed)
    write_textcat_splits(parts, out / "polarity", make_docs, POLARITY)

    lines = [ln.strip() for ln in (src / "text.txt").read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    heldout = lines[::10]
    train = [ln for i, ln in enumerate(lines) if i % 10] + train_text
    atomic_write_lines(out / "pretrain" / "train.txt", train)
    atomic_write_lines(out / "pretrain" / "heldout.txt", heldout)
    log(f"  pretrain: {len(train)} training lines, {len(heldout)} held out")
    log(f"smoke corpus written to {out}")
    return 0


if __name__ == "__main__":
    run_script(main)
