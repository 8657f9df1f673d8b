"""The biLMs shipped inside the package, and the default one."""

from pathlib import Path
from typing import Dict, Optional

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# name -> what it is; each is a directory of MODELS_DIR written by `pretrain`
# (options.json, weights.hdf5, vocab.txt, softmax.hdf5). See docs/model-card.md.
PACKAGED_MODELS: Dict[str, str] = {
    "en-open-3m": "English, 3M-parameter biLM (LSTM 512, projection 128) trained on "
    "7.1M words of openly licensed text",
}
DEFAULT_MODEL = "en-open-3m"


def packaged_dir(name: str) -> Optional[Path]:
    """The directory of a shipped model, or None if `name` names none.

    name (str): E.g. "en-open-3m" (any case).
    RETURNS (Optional[Path]): The model's directory inside the package.
    """
    lowered = name.lower()
    return MODELS_DIR / lowered if lowered in PACKAGED_MODELS else None
