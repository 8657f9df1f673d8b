"""The pretraining text sources, one module each: the registry of what each name reads."""

from typing import Callable, Dict, Iterator

from scripts.pretrain_text.clean import Doc
from scripts.pretrain_text.sources import (
    brown,
    conll,
    gutenberg,
    news,
    nlp_corpus,
    parlspeech,
    pydoc,
    shakespeare,
    sotu,
    wiki,
)

SOURCES: Dict[str, Callable[..., Iterator[Doc]]] = {
    "conll": conll.read_docs,
    "news": news.read_docs,
    "parlspeech": parlspeech.read_docs,
    "gutenberg": gutenberg.read_docs,
    "sotu": sotu.read_docs,
    "brown": brown.read_docs,
    "nlp_corpus": nlp_corpus.read_docs,
    "wiki": wiki.read_docs,
    "shakespeare": shakespeare.read_docs,
    "pydoc": pydoc.read_docs,
}
TRAIN_ONLY = {"conll"}
