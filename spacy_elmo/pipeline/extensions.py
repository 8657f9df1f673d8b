"""The `._.elmo` extensions and the hooks that make `.vector` and `.similarity` use ELMo."""

from typing import Any, Dict, Optional, Sequence, Union, cast

import numpy as np
from spacy.tokens import Doc, Span, Token

from ..io.text import is_bilm_token
from .doc_data import ElmoDocData, check_offsets, token_offsets

EXTENSION = "elmo"
# Every biLM layer of the Doc, for the components that listen to `elmo` (private: set
# only when listeners exist; `doc_cleaner` with attrs {"_._elmo_layers": None} drops it).
LAYERS_EXTENSION = "_elmo_layers"


def install_extensions() -> None:
    """Register Doc._.elmo, Span._.elmo, Token._.elmo and Doc._._elmo_layers, once
    (idempotent, so safe in every process that imports spacy_elmo)."""
    if not Doc.has_extension(EXTENSION):
        Doc.set_extension(EXTENSION, getter=doc_data, setter=_set_doc_data)
    if not Span.has_extension(EXTENSION):
        Span.set_extension(EXTENSION, getter=span_vector)
    if not Token.has_extension(EXTENSION):
        Token.set_extension(EXTENSION, getter=token_vector)
    if not Doc.has_extension(LAYERS_EXTENSION):
        Doc.set_extension(LAYERS_EXTENSION, getter=_get_layers, setter=_set_layers)


# Both Doc extensions keep their values where spaCy keeps an extension's default
# value (so DocBin and Doc.to_bytes save them), through a getter and a setter that
# record the Doc's tokens and check them: spaCy's retokenizer does not tell
# extensions that the tokens changed.
def _stored(doc: Doc, name: str) -> Any:
    # spaCy annotates user_data as Dict[str, Any]; its extension keys are tuples.
    return cast(Dict[Any, Any], doc.user_data).get(("._.", name, None, None))


def _store(doc: Doc, name: str, value: Any) -> None:
    cast(Dict[Any, Any], doc.user_data)[("._.", name, None, None)] = value


def doc_data(doc: Doc) -> Optional[ElmoDocData]:
    """Doc._.elmo: the ELMo data of a Doc, or None.

    doc (Doc): The Doc.
    RETURNS (Optional[ElmoDocData]): Its data; a ValueError if the Doc was
        retokenized since the data was set.
    """
    data = _stored(doc, EXTENSION)
    if data is not None:
        data.check(doc)
    return data


def _set_doc_data(doc: Doc, data: Optional[ElmoDocData]) -> None:
    if data is not None:
        data.bind(doc)
    _store(doc, EXTENSION, data)


def _get_layers(doc: Doc) -> Optional[Any]:
    stored = _stored(doc, LAYERS_EXTENSION)
    if stored is None:
        return None
    # (offsets, layers); msgpack gives a list back, and earlier versions stored
    # the layers alone.
    offsets, layers = stored if isinstance(stored, (tuple, list)) else (None, stored)
    check_offsets(offsets, int(layers.shape[1]), doc, f"doc._.{LAYERS_EXTENSION}")
    return layers


def _set_layers(doc: Doc, layers: Optional[Any]) -> None:
    """Keep every biLM layer (n_layers, n_tokens, dim) for the listeners, with the
    offsets of the tokens they were computed for."""
    if layers is not None and layers.shape[1] != len(doc):
        raise ValueError(
            f"ELMo layers of {layers.shape[1]} tokens, the Doc has {len(doc)}: "
            "they were made for another Doc"
        )
    stored = None if layers is None else (token_offsets(doc), layers)
    _store(doc, LAYERS_EXTENSION, stored)


def _checked_data(doc: Doc, index: Sequence[int]) -> Optional[ElmoDocData]:
    """The Doc's ELMo data, checked for the tokens `index` only (constant time per
    token; see ElmoDocData.check_token)."""
    data = _stored(doc, EXTENSION)
    if data is not None:
        for i in index:
            data.check_token(doc, i)
    return data


def token_vector(token: Token) -> Optional[np.ndarray]:
    """Token._.elmo: the token's ELMo vector (None without ELMo data)."""
    data = _checked_data(token.doc, [token.i])
    return None if data is None else data.vectors[token.i]


def span_vector(span: Span) -> Optional[np.ndarray]:
    """Span._.elmo: the mean of the span's non-whitespace token vectors (zeros when
    it has none)."""
    data = _checked_data(span.doc, range(span.start, span.end))
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
    if isinstance(obj, Doc):
        obj = obj[:]
    vector = token_vector(obj) if isinstance(obj, Token) else span_vector(obj)
    return _default_vector(obj) if vector is None else vector


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
    """With ELMo data: whether a token is one the biLM reads (not whitespace), or a
    span or Doc holds one."""
    tokens = [obj] if isinstance(obj, Token) else obj
    if _checked_data(obj.doc, [t.i for t in tokens]) is not None:
        return any(is_bilm_token(t) for t in tokens)
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
