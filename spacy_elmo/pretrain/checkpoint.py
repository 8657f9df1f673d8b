"""Training checkpoints: one HDF5 file written under a temporary name and renamed,
so a kill at any moment leaves the previous checkpoint or the new one, never half of
one. Only arrays and JSON are stored: loading unpickles nothing.

Layout: `model/<parameter>`, `optimizer/<param index>/<key>` (+ `param_groups` JSON
attribute), `lstm_state/h`, `lstm_state/c`, `rng/torch`, and a `progress` JSON
attribute (step, tokens, elapsed time, the vocabulary's hash).
"""

import json
from pathlib import Path
from typing import Any, Dict, NamedTuple, Optional

import h5py
import numpy as np
import torch

from ..bilm.lstm import LstmState
from ..io.atomic import atomic_path
from ..io.hdf5_checks import check_hdf5_features

# A run's checkpoint, in its output directory.
CHECKPOINT_FILE = "checkpoint.hdf5"


class Checkpoint(NamedTuple):
    """A saved training state.

    model (Dict[str, torch.Tensor]): The language model's state dict.
    optimizer (Dict[str, Any]): The optimiser's state dict.
    lstm_state (Optional[LstmState]): The state carried into the next window.
    rng (torch.Tensor): torch's global generator state.
    progress (Dict[str, Any]): Step, tokens, elapsed seconds, vocabulary hash, ...
    """

    model: Dict[str, torch.Tensor]
    optimizer: Dict[str, Any]
    lstm_state: Optional[LstmState]
    rng: torch.Tensor
    progress: Dict[str, Any]


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write a checkpoint atomically (replacing the previous one)."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            group = f.create_group("model")
            for name, tensor in checkpoint.model.items():
                group.create_dataset(name, data=_np(tensor))
            opt = f.create_group("optimizer")
            opt.attrs["param_groups"] = json.dumps(checkpoint.optimizer["param_groups"])
            for index, state in checkpoint.optimizer["state"].items():
                entry = opt.create_group(str(index))
                for key, value in state.items():
                    if isinstance(value, torch.Tensor):
                        entry.create_dataset(key, data=_np(value))
                    else:
                        entry.attrs[key] = json.dumps(value)
            if checkpoint.lstm_state is not None:
                f.create_dataset("lstm_state/h", data=_np(checkpoint.lstm_state[0]))
                f.create_dataset("lstm_state/c", data=_np(checkpoint.lstm_state[1]))
            f.create_dataset("rng/torch", data=checkpoint.rng.numpy())
            f.attrs["progress"] = json.dumps(checkpoint.progress)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`.

    RETURNS (Checkpoint): Its contents, as CPU tensors.
    """
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"Checkpoint {path} cannot be read as HDF5: {e}") from None
    with f:
        check_hdf5_features(f, f"Checkpoint {path}")
        try:
            model = {name: torch.from_numpy(d[()]) for name, d in f["model"].items()}
            opt = f["optimizer"]
            state: Dict[int, Dict[str, Any]] = {}
            for index, entry in opt.items():
                values: Dict[str, Any] = {
                    k: torch.from_numpy(np.asarray(d[()])) for k, d in entry.items()
                }
                values.update({k: json.loads(v) for k, v in entry.attrs.items()})
                state[int(index)] = values
            optimizer = {"state": state, "param_groups": json.loads(opt.attrs["param_groups"])}
            lstm_state = None
            if "lstm_state" in f:
                lstm_state = (
                    torch.from_numpy(f["lstm_state/h"][()]),
                    torch.from_numpy(f["lstm_state/c"][()]),
                )
            rng = torch.from_numpy(f["rng/torch"][()])
            progress = json.loads(f.attrs["progress"])
        except KeyError as e:
            raise ValueError(f"Checkpoint {path} is incomplete: {e}") from None
    return Checkpoint(model, optimizer, lstm_state, rng, progress)


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()
