"""A pretrained language model's directory, readable by everything that takes ELMo
weights: `options.json` + `weights.hdf5` (the original format), plus what the
language model needs beyond the biLM: `vocab.txt` and `softmax.hdf5`."""

import json
from pathlib import Path
from typing import Dict, Optional, Tuple

import h5py
import torch

from ..bilm.softmax import LMSoftmax, make_softmax
from ..io.atomic import atomic_path
from ..io.formats import write_bilm
from ..io.hdf5_checks import check_hdf5_features
from ..io.references import load_bilm
from ..io.weights import OPTIONS_FILE, WEIGHTS_FILE
from .objective import BiLanguageModel
from .vocab import Vocabulary

VOCAB_FILE = "vocab.txt"
SOFTMAX_FILE = "softmax.hdf5"


def export_model(path: Path, model: BiLanguageModel, vocab: Vocabulary) -> None:
    """Write the biLM's weight files, the vocabulary and the softmax into `path`
    (each file atomically, replacing an earlier export)."""
    path.mkdir(parents=True, exist_ok=True)
    write_bilm(model.bilm, path, overwrite=True)
    vocab.to_disk(path / VOCAB_FILE)
    save_softmax(path / SOFTMAX_FILE, model.softmax)


def save_softmax(path: Path, softmax: LMSoftmax) -> None:
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["kind"] = softmax.kind
            f.attrs["settings"] = json.dumps(softmax.settings())
            for name, tensor in softmax.state_dict().items():
                f.create_dataset(name, data=tensor.detach().cpu().numpy())


def load_softmax(path: Path) -> LMSoftmax:
    """Rebuild an output layer saved by `save_softmax`."""
    try:
        with h5py.File(path, "r") as f:
            check_hdf5_features(f, str(path))
            kind = str(f.attrs["kind"])
            settings = json.loads(f.attrs["settings"])
            state = _datasets(f)
    except (OSError, KeyError) as e:
        raise ValueError(f"{path} is not a softmax file written by spacy-elmo: {e}") from None
    softmax = make_softmax(kind, **settings)
    missing, unexpected = softmax.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: missing datasets {missing}, unexpected {unexpected}")
    return softmax


def _datasets(f: h5py.File) -> Dict[str, torch.Tensor]:
    found: Dict[str, torch.Tensor] = {}
    f.visititems(
        lambda name, obj: (
            found.__setitem__(name.replace("/", "."), torch.from_numpy(obj[()]))
            if isinstance(obj, h5py.Dataset)
            else None
        )
    )
    return found


def load_language_model(path: Path) -> Tuple[BiLanguageModel, Vocabulary]:
    """Load a directory written by `export_model` (or the `pretrain` command).

    RETURNS (Tuple[BiLanguageModel, Vocabulary]): The model, in eval mode, and its
        vocabulary.
    """
    for name in (OPTIONS_FILE, WEIGHTS_FILE, VOCAB_FILE, SOFTMAX_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"{path / name} not found: a language model directory needs {OPTIONS_FILE}, "
                f"{WEIGHTS_FILE}, {VOCAB_FILE} and {SOFTMAX_FILE} (as `pretrain` writes)"
            )
    bilm = load_bilm(path)
    vocab = Vocabulary.from_disk(path / VOCAB_FILE)
    softmax = load_softmax(path / SOFTMAX_FILE)
    _check_softmax(softmax, vocab, bilm.options.projection_dim, path)
    model = BiLanguageModel(bilm, softmax)
    model.eval()
    return model, vocab


def _check_softmax(
    softmax: LMSoftmax, vocab: Vocabulary, dim: int, path: Optional[Path] = None
) -> None:
    n_words = getattr(softmax, "n_words", None)
    if n_words != len(vocab) or getattr(softmax, "dim", None) != dim:
        raise ValueError(
            f"{path}: the softmax is for {n_words} words of width {getattr(softmax, 'dim', None)}, "
            f"but the vocabulary has {len(vocab)} words and the biLM's width is {dim}"
        )
