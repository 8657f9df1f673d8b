"""Read and write biLMs in the original format: `options.json` + `weights.hdf5`."""

import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple, Union

import h5py
import numpy as np
import torch

from ..bilm.manylangs import ManyLangsBiLM
from ..bilm.model import DEFAULT_TOKEN_CACHE_SIZE, ElmoBiLM
from ..bilm.options import ElmoOptions
from ..errors import ElmoFormatError
from .atomic import atomic_path
from .hdf5_checks import check_hdf5_features

PathLike = Union[str, "os.PathLike[str]"]
# The files of a biLM in the original format, as save_weights_files writes them.
OPTIONS_FILE = "options.json"
WEIGHTS_FILE = "weights.hdf5"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# TensorFlow's gate blocks are i, g (j), f, o; ours are i, f, o, g.
TF_TO_OURS = [0, 2, 3, 1]
OURS_TO_TF = [0, 3, 1, 2]

Getter = Callable[[], np.ndarray]
Setter = Callable[[np.ndarray], Any]


def read_options(path: PathLike) -> ElmoOptions:
    """Read and validate an options.json file.

    path (PathLike): The file.
    RETURNS (ElmoOptions): The validated options.
    """
    path = Path(path)
    if not path.is_file():
        raise ElmoFormatError(f"Options file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ElmoFormatError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ElmoFormatError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return ElmoOptions.from_dict(data, source=str(path))


def load_weights_files(
    options_path: PathLike,
    weights_path: PathLike,
    *,
    stateful: bool = False,
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
) -> ElmoBiLM:
    """Build a biLM from an options.json and a weights.hdf5 file.

    Every dataset the options imply must be present with its exact shape, and no
    other dataset may be: a partial or mismatched load raises ElmoFormatError.

    options_path (PathLike): The options file.
    weights_path (PathLike): The hdf5 weights.
    stateful (bool): Carry LSTM state across batches (see ElmoBiLM).
    token_cache_size (int): Token-layer cache size (see ElmoBiLM).
    RETURNS (ElmoBiLM): The model, in eval mode, on the CPU.
    """
    options = read_options(options_path)
    model = ElmoBiLM(options, stateful=stateful, token_cache_size=token_cache_size)
    weights_path = Path(weights_path)
    with _open_hdf5(weights_path) as f:
        _read_hdf5(model, f, str(weights_path), str(options_path))
    return model.eval()


def bilm_from_bytes(options: Dict[str, Any], weights: bytes, source: str) -> ElmoBiLM:
    """Build a biLM from an options dict and the bytes of a weights.hdf5 file.

    options (Dict[str, Any]): The options.json content.
    weights (bytes): The hdf5 file's bytes.
    source (str): What the bytes are, for error messages.
    RETURNS (ElmoBiLM): The model, in eval mode, on the CPU.
    """
    if weights[:8] != HDF5_SIGNATURE:
        raise ElmoFormatError(f"{source}: the weights are not HDF5 data")
    model = ElmoBiLM(ElmoOptions.from_dict(options, source=f"{source} (options)"))
    try:
        f = h5py.File(io.BytesIO(weights), "r")
    except OSError as e:
        raise ElmoFormatError(f"{source}: cannot read the HDF5 weights: {e}") from None
    with f:
        _read_hdf5(model, f, source, f"{source} (options)")
    return model.eval()


def bilm_to_bytes(model: ElmoBiLM) -> bytes:
    """The bytes of the model's weights.hdf5 file (see save_weights_files)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        _write_hdf5(model, f)
    return buffer.getvalue()


def _read_hdf5(model: ElmoBiLM, f: h5py.File, source: str, options_source: str) -> None:
    """Check the file reads no other file, every dataset's presence and shape, then
    set the model's parameters."""
    check_hdf5_features(f, source, ElmoFormatError)
    char_dim = model.options.char_dim
    found = _dataset_names(f)
    if "char_embed" in found:
        rows = f["char_embed"].shape[0]
        if rows not in (261, 262):
            raise ElmoFormatError(
                f"{source}: dataset char_embed has shape {f['char_embed'].shape}, "
                f"expected (261, {char_dim}) or (262, {char_dim})"
            )
        model.char_table_rows_in_file = rows
    expected = _expected_shapes(model)
    missing = [name for name in expected if name not in found]
    if missing:
        raise ElmoFormatError(
            f"{source}: missing dataset {missing[0]} (expected shape "
            f"{expected[missing[0]]}); {len(missing)} of {len(expected)} datasets missing"
        )
    unknown = sorted(set(found) - set(expected))
    if unknown:
        raise ElmoFormatError(
            f"{source}: unexpected dataset(s) {', '.join(unknown[:5])} for the model "
            f"{options_source} describes (wrong options file?)"
        )
    for name, shape in expected.items():
        dataset = f[name]
        if dataset.shape != shape:
            raise ElmoFormatError(
                f"{source}: dataset {name} has shape {dataset.shape}, expected {shape} "
                f"(from {options_source})"
            )
        if dataset.dtype.kind != "f":
            raise ElmoFormatError(
                f"{source}: dataset {name} has dtype {dataset.dtype}, expected float"
            )
    with torch.no_grad():
        for name, (_, setter) in _tensor_map(model).items():
            try:
                data = np.asarray(f[name][()], dtype=np.float32)
            except (OSError, RuntimeError, KeyError) as e:
                raise ElmoFormatError(
                    f"{source}: cannot read dataset {name} (truncated or corrupt file?): {e}"
                ) from None
            if not np.isfinite(data).all():
                bad = int((~np.isfinite(data)).sum())
                raise ElmoFormatError(
                    f"{source}: dataset {name} holds {bad} non-finite values (NaN or inf); "
                    "the weights are corrupt"
                )
            setter(data)


def _write_hdf5(model: ElmoBiLM, f: h5py.File) -> None:
    for name, (getter, _) in _tensor_map(model).items():
        f.create_dataset(name, data=getter())


def save_weights_files(
    model: ElmoBiLM, directory: PathLike, *, overwrite: bool = False
) -> Tuple[Path, Path]:
    """Write a biLM as `options.json` + `weights.hdf5` in the original format.

    Both files are written to temporary names and renamed into place, so an
    interruption never leaves a half-written file.

    model (ElmoBiLM): The model.
    directory (PathLike): Where to write; created if needed.
    overwrite (bool): Replace existing files instead of raising.
    RETURNS (Tuple[Path, Path]): The options and weights paths.
    """
    if isinstance(model, ManyLangsBiLM):
        raise ElmoFormatError(
            "bilm-tf's options.json + weights.hdf5 cannot hold an ELMoForManyLangs biLM "
            "(its word embedding and character dictionary): save it in a pipeline "
            "(`convert SOURCE OUTPUT --to pipeline`) or keep its own model directory"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    options_path, weights_path = directory / OPTIONS_FILE, directory / WEIGHTS_FILE
    for path in (options_path, weights_path):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    with atomic_path(weights_path) as tmp:
        with h5py.File(tmp, "w") as f:
            _write_hdf5(model, f)
    with atomic_path(options_path) as tmp:
        tmp.write_text(json.dumps(model.options.raw, indent=2) + "\n", encoding="utf8")
    return options_path, weights_path


def _open_hdf5(path: Path) -> h5py.File:
    if not path.is_file():
        raise ElmoFormatError(f"Weights file not found: {path}")
    with path.open("rb") as fh:
        head = fh.read(8)
    if head != HDF5_SIGNATURE:
        raise ElmoFormatError(f"{path} is not an HDF5 file (no HDF5 signature at its start)")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise ElmoFormatError(
            f"{path}: cannot open HDF5 file (truncated or corrupt?): {e}"
        ) from None


def _dataset_names(f: h5py.File) -> List[str]:
    names: List[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def _expected_shapes(model: ElmoBiLM) -> Dict[str, Tuple[int, ...]]:
    return {name: getter().shape for name, (getter, _) in _tensor_map(model).items()}


def _tensor_map(model: ElmoBiLM) -> Dict[str, Tuple[Getter, Setter]]:
    """Every dataset of the file format, with how to read it from the model (in the
    file's layout) and how to set the model's parameters from it."""
    enc, lstm = model.char_encoder, model.lstm
    entries: Dict[str, Tuple[Getter, Setter]] = {}
    skip = enc.char_embed.shape[0] - model.char_table_rows_in_file

    def set_chars(a: np.ndarray) -> Any:
        enc.char_embed.zero_()
        enc.char_embed[skip:] = torch.from_numpy(a)

    entries["char_embed"] = (lambda: _np(enc.char_embed)[skip:], set_chars)
    for i, (weight, bias) in enumerate(zip(enc.conv_weights, enc.conv_biases)):
        entries[f"CNN/W_cnn_{i}"] = _conv(weight)
        entries[f"CNN/b_cnn_{i}"] = _plain(bias)
    n = enc.n_filters
    for k, (weight, bias) in enumerate(zip(enc.highway_weights, enc.highway_biases)):
        for j, part in enumerate(("transform", "carry")):
            cols = slice(j * n, (j + 1) * n)
            entries[f"CNN_high_{k}/W_{part}"] = _plain(weight, (slice(None), cols))
            entries[f"CNN_high_{k}/b_{part}"] = _plain(bias, (cols,))
    if enc.proj_weight is not None and enc.proj_bias is not None:
        entries["CNN_proj/W_proj"] = _plain(enc.proj_weight)
        entries["CNN_proj/b_proj"] = _plain(enc.proj_bias)
    for d in range(2):
        for layer in range(lstm.n_layers):
            prefix = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell/"
            entries[prefix + "W_0"] = _lstm_kernel(lstm, layer, d)
            entries[prefix + "B"] = _lstm_bias(lstm, layer, d)
            if lstm.has_projection:
                entries[prefix + "W_P_0"] = _plain(lstm.proj_weights[layer], (d,))
    return entries


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().float().numpy()


def _conv(weight: torch.Tensor) -> Tuple[Getter, Setter]:
    """PyTorch's (out, in, width) <-> the file's (1, width, in, out)."""
    return (
        lambda: _np(weight).transpose(2, 1, 0)[None],
        lambda a: weight.copy_(torch.from_numpy(a[0].transpose(2, 1, 0))),
    )


def _plain(param: torch.Tensor, where: Tuple[Any, ...] = (...,)) -> Tuple[Getter, Setter]:
    return (
        lambda: np.ascontiguousarray(_np(param)[where]),
        lambda a: param[where].copy_(torch.from_numpy(a)),
    )


def _gates(a: np.ndarray, order: List[int]) -> np.ndarray:
    """Reorder the four gate blocks along the last axis."""
    blocks = np.split(a, 4, axis=-1)
    return np.concatenate([blocks[i] for i in order], axis=-1)


def _lstm_kernel(lstm: Any, layer: int, d: int) -> Tuple[Getter, Setter]:
    w_in, w_state = lstm.input_weights[layer], lstm.state_weights[layer]

    def get() -> np.ndarray:
        return _gates(np.concatenate([_np(w_in[d]), _np(w_state[d])]), OURS_TO_TF)

    def set_(a: np.ndarray) -> None:
        a = _gates(a, TF_TO_OURS)
        w_in[d].copy_(torch.from_numpy(a[: w_in.shape[1]]))
        w_state[d].copy_(torch.from_numpy(a[w_in.shape[1] :]))

    return get, set_


def _lstm_bias(lstm: Any, layer: int, d: int) -> Tuple[Getter, Setter]:
    bias = lstm.biases[layer]
    return (
        lambda: _gates(_np(bias[d]), OURS_TO_TF),
        lambda a: bias[d].copy_(torch.from_numpy(_gates(a, TF_TO_OURS))),
    )
