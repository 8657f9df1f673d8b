"""spacy-elmo: ELMo for spaCy v3."""

from .chars import batch_to_ids
from .embedder import ElmoEmbedder
from .errors import ElmoFormatError
from .nn import BiLMOutput, ElmoBiLM, ScalarMix
from .options import PUBLISHED_OPTIONS, ElmoOptions, make_options
from .resolve import load_bilm, resolve_weights
from .weights import load_weights_files, save_weights_files

__version__ = "0.1.0.dev0"

__all__ = [
    "BiLMOutput",
    "ElmoBiLM",
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
]
