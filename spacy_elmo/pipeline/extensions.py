"""The `._.elmo` extensions and the hooks that make `.vector` and `.similarity` use ELMo."""

from typing import Optional, Union

import numpy as np
from spacy.tokens import Doc, Span, Token

from ..io.text import is_bilm_token
from .doc_data import ElmoDocData

EXTENSION = "elmo"
# Every biLM layer of the Doc, for the components that listen to `elmo` (private: set
# only when listeners exist; `doc_cleaner` with attrs {"_._elmo_layers": None} drops it).
LAYERS_EXTENSION = "_elmo_layers"


def install_extensions() -> None:
    """Register Doc._.elmo, Span._.elmo, Token._.elmo and Doc._._elmo_layers, once
    (idempotent, so safe in every process that imports spacy_elmo)."""
    if not Doc.has_extension(EXTENSION):
        Doc.set_extension(EXTENSION, default=None)
    if not Span.has_extension(EXTENSION):
        Span.set_extension(EXTENSION, getter=span_vector)
    if not Token.has_extension(EXTENSION):
        Token.set_extension(EXTENSION, getter=token_vector)
    if not Doc.has_extension(LAYERS_EXTENSION):
        Doc.set_extension(LAYERS_EXTENSION, default=None)


def doc_data(doc: Doc) -> Optional[ElmoDocData]:
    """The ELMo data of a Doc, or None."""
    return doc._.get(EXTENSION)


def token_vector(token: Token) -> Optional[np.ndarray]:
    """Token._.elmo: the token's ELMo vector (None without ELMo data)."""
    data = doc_data(token.doc)
    return None if data is None else data.vectors[token.i]


def span_vector(span: Span) -> Optional[np.ndarray]:
    """Span._.elmo: the mean of the span's non-whitespace token vectors."""
    data = doc_data(span.doc)
    if data is None:
        return None
    index = [t.i for t in span if is_bilm_token(t)]
    if not index:
        return np.zeros(data.dim, dtype=np.float32)
    return data.vectors[index].mean(axis=0)


def set_vector_hooks(doc: Doc) -> None:
    """Make `.vector`, `.vector_norm`, `.has_vector` and `.similarity` of the Doc, its
    spans and tokens use ELMo. Hooks fall back to spaCy's behaviour for a Doc whose
    ELMo data was removed (e.g. by doc_cleaner)."""
    for hooks in (doc.user_hooks, doc.user_span_hooks, doc.user_token_hooks):
        hooks["vector"] = _vector
        hooks["vector_norm"] = _vector_norm
        hooks["has_vector"] = _has_vector
        hooks["similarity"] = _similarity


Obj = Union[Doc, Span, Token]


def _vector(obj: Obj) -> np.ndarray:
    data = doc_data(obj.doc)
    if data is None:
        return _default_vector(obj)
    if isinstance(obj, Token):
        return data.vectors[obj.i]
    return span_vector(obj[:] if isinstance(obj, Doc) else obj)  # type: ignore[return-value]


def _default_vector(obj: Obj) -> np.ndarray:
    if isinstance(obj, Token):
        return np.asarray(obj.vocab.get_vector(obj.orth))
    vectors = [obj.vocab.get_vector(t.orth) for t in obj]
    if not vectors:
        return np.zeros((obj.vocab.vectors_length,), dtype=np.float32)
    return np.asarray(vectors).mean(axis=0)


def _vector_norm(obj: Obj) -> float:
    vector = _vector(obj)
    return float(np.sqrt((vector * vector).sum()))


def _has_vector(obj: Obj) -> bool:
    if doc_data(obj.doc) is not None:
        return True
    if isinstance(obj, Token):
        return obj.vocab.has_vector(obj.orth)
    return any(obj.vocab.has_vector(t.orth) for t in obj)


def _similarity(obj: Obj, other: Obj) -> float:
    """Cosine similarity of the ELMo vectors (0.0 if either is all zeros)."""
    a, b = np.asarray(_vector(obj)), np.asarray(_vector(other))
    if a.shape != b.shape:
        raise ValueError(
            f"Cannot compare vectors of shape {a.shape} and {b.shape}: is the other object "
            "from a Doc without ELMo data, or from another ELMo model?"
        )
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / norm) if norm else 0.0
