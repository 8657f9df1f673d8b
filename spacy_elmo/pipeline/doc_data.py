"""The ELMo data stored on a Doc (`doc._.elmo`), and its msgpack encoding."""

from typing import Any, Callable, Dict, List, Optional

import numpy as np
import srsly

MSGPACK_KEY = "__spacy_elmo_doc_data__"


class ElmoDocData:
    """Per-token ELMo layers of one Doc.

    layers (numpy.ndarray): (n_layers, n_tokens, dim), float32 or float16: every biLM
        layer, or the single layer the component was told to keep.
    names (List[str]): One name per stored layer, e.g. ["token", "lstm1", "lstm2"],
        ["average"], ["mix"] or ["top"].
    """

    def __init__(self, layers: np.ndarray, names: List[str]) -> None:
        if layers.ndim != 3 or layers.shape[0] != len(names):
            raise ValueError(
                f"ELMo doc data needs (n_layers, n_tokens, dim) layers and one name per "
                f"layer, got shape {layers.shape} and {len(names)} names"
            )
        self.layers = layers
        self.names = list(names)

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

    def __len__(self) -> int:
        return int(self.layers.shape[1])

    def __repr__(self) -> str:
        return (
            f"ElmoDocData(layers={self.names}, n_tokens={len(self)}, dim={self.dim}, "
            f"dtype={self.layers.dtype})"
        )

    def to_dict(self) -> Dict[str, Any]:
        return {MSGPACK_KEY: True, "layers": self.layers, "names": self.names}

    @classmethod
    def from_dict(cls, msg: Dict[str, Any]) -> "ElmoDocData":
        return cls(np.asarray(msg["layers"]), list(msg["names"]))


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
