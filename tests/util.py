"""Helpers shared by the tests."""

from spacy_elmo import ElmoOptions, make_options


def tiny_options(**overrides) -> ElmoOptions:
    """A small random-weight configuration (like the fixture model)."""
    kwargs = dict(
        dim=32,
        projection_dim=8,
        n_layers=2,
        n_highway=1,
        filters=[[1, 4], [2, 8], [3, 8]],
        char_dim=4,
    )
    kwargs.update(overrides)
    return ElmoOptions.from_dict(make_options(**kwargs))


PEOPLE = ["Alice", "Bob", "Maria Lopez", "Chen Wei", "Olga", "Tom Hardy", "Amir", "Ines"]
PLACES = ["Paris", "London", "New York", "Berlin", "Lagos", "Lima", "Kyoto", "Oslo"]
NER_TEMPLATES = [
    "{p} lives in {l} .",
    "Yesterday {p} flew to {l} for work .",
    "In {l} , {p} met the mayor .",
    "{p} said that {l} was cold .",
]
GOOD = ["great", "wonderful", "superb", "lovely", "moving"]
BAD = ["awful", "boring", "dreadful", "dull", "clumsy"]
TEXTCAT_TEMPLATES = [
    "the film was {w} .",
    "a {w} story , and {w} acting .",
    "{w} from start to end",
]


def ner_docs(nlp, n: int, seed: int = 0) -> list:
    """n Docs of one sentence each with PER and LOC entities, from templates."""
    import random

    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        person, place = rng.choice(PEOPLE), rng.choice(PLACES)
        text = rng.choice(NER_TEMPLATES).format(p=person, l=place)
        doc = nlp.make_doc(text)
        spans = []
        for value, label in ((person, "PER"), (place, "LOC")):
            start = text.index(value)
            spans.append(doc.char_span(start, start + len(value), label=label))
        doc.ents = spans
        docs.append(doc)
    return docs


def textcat_docs(nlp, n: int, seed: int = 0) -> list:
    """n Docs labelled POS or NEG (exclusive), from templates and sentiment words."""
    import random

    rng = random.Random(seed)
    docs = []
    for i in range(n):
        positive = i % 2 == 0
        word = rng.choice(GOOD if positive else BAD)
        doc = nlp.make_doc(rng.choice(TEXTCAT_TEMPLATES).format(w=word))
        doc.cats = {"POS": float(positive), "NEG": float(not positive)}
        docs.append(doc)
    return docs


def write_corpus(docs: list, path) -> str:
    """Write Docs as a .spacy file; returns the path."""
    from spacy.tokens import DocBin

    DocBin(docs=docs).to_disk(path)
    return str(path)


def same_weights(a, b) -> bool:
    """Whether two torch modules hold equal parameters under the same names."""
    import torch

    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
