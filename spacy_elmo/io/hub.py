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
# ELMoForManyLangs (HIT-SCIR): one zip of a model directory per language, in the
# NLPL repository. Named by ISO 639-1 code where there is one (639-3 otherwise).
MANYLANGS_BASE_URL = "http://vectors.nlpl.eu/repository/11"
MANYLANGS_PREFIX = "manylangs-"
MANYLANGS_ARCHIVE = "model.zip"
# language code -> repository ID (<ID>.zip); zh is traditional Chinese (Wikipedia)
MANYLANGS_IDS: Dict[str, int] = {
    "ar": 136, "bg": 137, "ca": 138, "cs": 139, "cu": 140, "da": 141, "de": 142,
    "el": 143, "en": 144, "es": 145, "et": 146, "eu": 147, "fa": 148, "fi": 149,
    "fr": 150, "ga": 151, "gl": 152, "grc": 153, "he": 154, "hi": 155, "hr": 156,
    "hu": 157, "id": 158, "it": 159, "ja": 160, "ko": 161, "la": 162, "lv": 163,
    "nl": 164, "nb": 165, "nn": 166, "pl": 167, "pt": 168, "ro": 169, "ru": 170,
    "sk": 171, "sl": 172, "sv": 173, "tr": 174, "ug": 175, "uk": 176, "ur": 177,
    "vi": 178, "zh": 179,
}  # fmt: skip
MANYLANGS_MODELS: Dict[str, int] = {MANYLANGS_PREFIX + c: i for c, i in MANYLANGS_IDS.items()}
CACHE_ENV = "SPACY_ELMO_CACHE"


def canonical_name(name: str) -> Optional[str]:
    """The published model a name refers to (short name or file stem, any case).

    name (str): E.g. "small", "Original-5.5b", "2x1024_128_2048cnn_1xhighway" or
        "manylangs-ZH".
    RETURNS (Optional[str]): The short name, or None if it names no published model.
    """
    lowered = name.lower()
    for short, stem in PUBLISHED_MODELS.items():
        if lowered in (short.lower(), stem.lower(), f"elmo_{stem}".lower()):
            return short
    return lowered if lowered in MANYLANGS_MODELS else None


def is_manylangs(name: str) -> bool:
    """Whether a short name is an ELMoForManyLangs model (a zipped model directory)."""
    return name in MANYLANGS_MODELS


def names_text() -> str:
    """Every published name, for messages."""
    codes = ", ".join(MANYLANGS_IDS)
    return f"{', '.join(PUBLISHED_MODELS)}, and {MANYLANGS_PREFIX}LANG for LANG in {codes}"


def origin(name: str) -> str:
    """The address prefix of a published model's files, which a mirror replaces."""
    return MANYLANGS_BASE_URL if is_manylangs(name) else BASE_URL


def urls(name: str) -> Dict[str, str]:
    """The download addresses of a published model's files: "options.json" and
    "weights.hdf5", or for an ELMoForManyLangs model its archive (MANYLANGS_ARCHIVE)."""
    if is_manylangs(name):
        return {MANYLANGS_ARCHIVE: f"{MANYLANGS_BASE_URL}/{MANYLANGS_MODELS[name]}.zip"}
    stem = PUBLISHED_MODELS[name]
    prefix = f"{BASE_URL}/{stem}/elmo_{stem}"
    return {"options.json": f"{prefix}_options.json", "weights.hdf5": f"{prefix}_weights.hdf5"}


def cache_dir() -> Path:
    """Where published models are kept: $SPACY_ELMO_CACHE, else ~/.cache/spacy-elmo."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "spacy-elmo"


def model_dir(name: str) -> Path:
    """The cache directory of one published model (options.json + weights.hdf5, or
    an ELMoForManyLangs model directory)."""
    return cache_dir() / name
