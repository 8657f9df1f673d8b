"""spacy-elmo: ELMo for spaCy v3.

The biLM core (this module's names) needs only PyTorch. The spaCy parts load on
first use: `ElmoComponent`, `ElmoDocData` and `set_vector_hooks` from here, and the
`elmo` factory and `spacy-elmo.*` architectures through spaCy's entry points.
"""

from typing import Any

from .bilm import BiLMOutput, ElmoBiLM, ScalarMix
from .bilm.chars import batch_to_ids
from .bilm.options import PUBLISHED_OPTIONS, ElmoOptions, make_options
from .errors import ElmoFormatError
from .io.embedder import ElmoEmbedder
from .io.references import load_bilm, resolve_weights
from .io.weights import load_weights_files, save_weights_files

__version__ = "0.1.0.dev0"

__all__ = [
    "BiLMOutput",
    "ElmoBiLM",
    "ElmoComponent",
    "ElmoDocData",
    "ElmoEmbedder",
    "ElmoFormatError",
    "ElmoOptions",
    "PUBLISHED_OPTIONS",
    "ScalarMix",
    "batch_to_ids",
    "load_bilm",
    "load_weights_files",
    "make_options",
    "resolve_weights",
    "save_weights_files",
    "set_vector_hooks",
]

_SPACY_PARTS = {
    "ElmoComponent": "pipeline.component",
    "ElmoDocData": "pipeline.doc_data",
    "set_vector_hooks": "pipeline.extensions",
}


def __getattr__(name: str) -> Any:
    if name in _SPACY_PARTS:
        import importlib

        return getattr(importlib.import_module(f".{_SPACY_PARTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
