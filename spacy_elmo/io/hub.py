"""The published ELMo models: names, download addresses and the local cache."""

import os
from pathlib import Path
from typing import Dict, Optional

BASE_URL = "https://allennlp.s3.amazonaws.com/models/elmo"
# name -> directory and file stem of the published files
PUBLISHED_MODELS: Dict[str, str] = {
    "small": "2x1024_128_2048cnn_1xhighway",
    "medium": "2x2048_256_2048cnn_1xhighway",
    "original": "2x4096_512_2048cnn_2xhighway",
    "original-5.5B": "2x4096_512_2048cnn_2xhighway_5.5B",
}
CACHE_ENV = "SPACY_ELMO_CACHE"


def canonical_name(name: str) -> Optional[str]:
    """The published model a name refers to (short name or file stem, any case).

    name (str): E.g. "small", "Original-5.5b" or "2x1024_128_2048cnn_1xhighway".
    RETURNS (Optional[str]): The short name, or None if it names no published model.
    """
    lowered = name.lower()
    for short, stem in PUBLISHED_MODELS.items():
        if lowered in (short.lower(), stem.lower(), f"elmo_{stem}".lower()):
            return short
    return None


def urls(name: str) -> Dict[str, str]:
    """The download addresses of a published model's options and weights files."""
    stem = PUBLISHED_MODELS[name]
    prefix = f"{BASE_URL}/{stem}/elmo_{stem}"
    return {"options.json": f"{prefix}_options.json", "weights.hdf5": f"{prefix}_weights.hdf5"}


def cache_dir() -> Path:
    """Where published models are kept: $SPACY_ELMO_CACHE, else ~/.cache/spacy-elmo."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "spacy-elmo"


def model_dir(name: str) -> Path:
    """The cache directory of one published model (options.json + weights.hdf5)."""
    return cache_dir() / name
