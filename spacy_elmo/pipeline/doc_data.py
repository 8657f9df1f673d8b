"""The ELMo data stored on a Doc (`doc._.elmo`), and its msgpack encoding."""

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import numpy as np
import srsly

# srsly loads this module (its msgpack codecs) while spaCy itself is being imported:
# spaCy is imported only where it is used.
if TYPE_CHECKING:
    from spacy.tokens import Doc

MSGPACK_KEY = "__spacy_elmo_doc_data__"
RETOKENIZED = (
    "{what} no longer matches the Doc's tokens ({detail}): the Doc was retokenized after "
    "'elmo'; run retokenizers (e.g. merge_entities, merge_noun_chunks) before the elmo "
    "component"
)


def token_offsets(doc: "Doc") -> np.ndarray:
    """Where each token of a Doc is in its text: what retokenizing changes.

    doc (Doc): The Doc.
    RETURNS (numpy.ndarray): int64 (n_tokens, 2): each token's first character and length.
    """
    from spacy.attrs import IDX, LENGTH

    return doc.to_array([IDX, LENGTH]).astype(np.int64)


def check_offsets(offsets: Optional[np.ndarray], n_tokens: int, doc: "Doc", what: str) -> None:
    """Raise if data made for `n_tokens` tokens at `offsets` is not the Doc's tokens'.

    offsets (Optional[numpy.ndarray]): From token_offsets when the data was made;
        None (data saved by an earlier version): only the count is checked.
    n_tokens (int): The tokens the data has.
    doc (Doc): The Doc the data is read from.
    what (str): The data, for the message (e.g. "doc._.elmo").
    """
    if n_tokens != len(doc):
        detail = f"{n_tokens} tokens when ELMo ran, {len(doc)} now"
        raise ValueError(RETOKENIZED.format(what=what, detail=detail))
    if offsets is not None and not np.array_equal(offsets, token_offsets(doc)):
        detail = "tokens moved or changed length"
        raise ValueError(RETOKENIZED.format(what=what, detail=detail))


class ElmoDocData:
    """Per-token ELMo layers of one Doc.

    layers (numpy.ndarray): (n_layers, n_tokens, dim), float32 or float16: every biLM
        layer, or the single layer the component was told to keep.
    names (List[str]): One name per stored layer, e.g. ["token", "lstm1", "lstm2"],
        ["average"], ["mix"] or ["top"].
    offsets (Optional[numpy.ndarray]): int64 (n_tokens, 2), each token's first
        character and length in the Doc it was made for (see `bind`); None until
        it is set on a Doc.
    """

    def __init__(
        self, layers: np.ndarray, names: List[str], offsets: Optional[np.ndarray] = None
    ) -> None:
        if layers.ndim != 3 or layers.shape[0] != len(names):
            raise ValueError(
                f"ELMo doc data needs (n_layers, n_tokens, dim) layers and one name per "
                f"layer, got shape {layers.shape} and {len(names)} names"
            )
        if offsets is not None and offsets.shape != (layers.shape[1], 2):
            raise ValueError(
                f"ELMo doc data has {layers.shape[1]} tokens but offsets of shape {offsets.shape}"
            )
        self.layers = layers
        self.names = list(names)
        self.offsets = offsets

    @property
    def dim(self) -> int:
        """Width of each vector."""
        return int(self.layers.shape[2])

    @property
    def vectors(self) -> np.ndarray:
        """One float32 vector per token: the stored layer, or the average of all
        stored layers. Whitespace tokens have zero vectors."""
        if self.layers.shape[0] == 1:
            return self.layers[0].astype(np.float32, copy=False)
        return self.layers.astype(np.float32).mean(axis=0)

    def bind(self, doc: "Doc") -> None:
        """Record the tokens of the Doc the data is set on (the first time), or check
        they are those it was made for, so that retokenizing the Doc is detected.

        doc (Doc): The Doc.
        """
        if len(self) != len(doc):
            raise ValueError(
                f"ELMo doc data of {len(self)} tokens, the Doc has {len(doc)}: "
                "it was made for another Doc"
            )
        if self.offsets is None:
            self.offsets = token_offsets(doc)
        else:
            self.check(doc)

    def check(self, doc: "Doc") -> None:
        """Raise if the Doc's tokens are no longer those the data was made for.

        doc (Doc): The Doc the data is read from.
        """
        check_offsets(self.offsets, len(self), doc, "doc._.elmo")

    def check_token(self, doc: "Doc", i: int) -> None:
        """`check` for one token, in constant time: the token count and the token's
        own offsets.

        doc (Doc): The Doc the data is read from.
        i (int): The token's index.
        """
        if len(self) != len(doc) or self.offsets is None:
            self.check(doc)
            return
        token = doc[i]
        if self.offsets[i, 0] != token.idx or self.offsets[i, 1] != len(token):
            detail = f"token {i} ({token.text!r}) is not the token ELMo read there"
            raise ValueError(RETOKENIZED.format(what="doc._.elmo", detail=detail))

    def __len__(self) -> int:
        return int(self.layers.shape[1])

    def __repr__(self) -> str:
        return (
            f"ElmoDocData(layers={self.names}, n_tokens={len(self)}, dim={self.dim}, "
            f"dtype={self.layers.dtype})"
        )

    def to_dict(self) -> Dict[str, Any]:
        msg: Dict[str, Any] = {MSGPACK_KEY: True, "layers": self.layers, "names": self.names}
        if self.offsets is not None:
            msg["offsets"] = self.offsets
        return msg

    @classmethod
    def from_dict(cls, msg: Dict[str, Any]) -> "ElmoDocData":
        offsets = msg.get("offsets")
        return cls(
            np.asarray(msg["layers"]),
            list(msg["names"]),
            None if offsets is None else np.asarray(offsets, dtype=np.int64),
        )


@srsly.msgpack_encoders("spacy_elmo.doc_data")
def encode_doc_data(obj: Any, chain: Optional[Callable[[Any], Any]] = None) -> Any:
    """msgpack encoder, so that DocBin(store_user_data=True) keeps doc._.elmo."""
    if isinstance(obj, ElmoDocData):
        return obj.to_dict()
    return obj if chain is None else chain(obj)


@srsly.msgpack_decoders("spacy_elmo.doc_data")
def decode_doc_data(obj: Any, chain: Optional[Callable[[Any], Any]] = None) -> Any:
    """msgpack decoder for encode_doc_data."""
    if isinstance(obj, dict) and obj.get(MSGPACK_KEY):
        return ElmoDocData.from_dict(obj)
    return obj if chain is None else chain(obj)
