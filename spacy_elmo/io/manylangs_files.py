"""Read and write ELMoForManyLangs model directories (config.json, the architecture
JSON it names, char.dic, word.dic, token_embedder.pkl, encoder.pkl).

Their weights are PyTorch state dicts. They are read with `weights_only=True`, which
unpickles tensors and plain containers only: a file that needs anything else is
refused, never executed.
"""

import io
import json
import pickle
import re
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from ..bilm.dictionaries import TokenDictionaries, format_dictionary, parse_dictionary
from ..bilm.manylangs import ManyLangsBiLM
from ..bilm.model import DEFAULT_TOKEN_CACHE_SIZE
from ..bilm.options import ACTIVATIONS, ElmoOptions
from ..errors import ElmoFormatError
from .atomic import atomic_path

CONFIG_FILE = "config.json"
CHAR_FILE = "char.dic"
WORD_FILE = "word.dic"
TOKEN_EMBEDDER_FILE = "token_embedder.pkl"
ENCODER_FILE = "encoder.pkl"
MODEL_FILES = (CONFIG_FILE, CHAR_FILE, WORD_FILE, TOKEN_EMBEDDER_FILE, ENCODER_FILE)
# The name write_model_dir gives the architecture JSON (config.json names it).
ARCHITECTURE_FILE = "architecture.json"
# The architecture every published model names. Their package ships it (under two
# names with the same content) rather than the model archives, so it is kept here.
PUBLISHED_ARCHITECTURE: Dict[str, Any] = {
    "encoder": {
        "name": "elmo",
        "projection_dim": 512,
        "cell_clip": 3,
        "proj_clip": 3,
        "dim": 4096,
        "n_layers": 2,
    },
    "token_embedder": {
        "name": "cnn",
        "activation": "relu",
        "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
        "n_highway": 2,
        "word_dim": 100,
        "char_dim": 50,
        "max_characters_per_token": 50,
    },
    "classifier": {"name": "sampled_softmax", "n_samples": 8192},
    "dropout": 0.1,
}
KNOWN_ARCHITECTURES = {
    "cnn_50_100_512_4096_sample.json": PUBLISHED_ARCHITECTURE,
    "cnn_0_100_512_4096_sample.json": PUBLISHED_ARCHITECTURE,
}
# Their LSTM cell's gate blocks are i, f, g, o; ours are i, f, o, g (an involution).
GATE_ORDER = [0, 1, 3, 2]


def is_model_dir(path: Path) -> bool:
    """Whether a directory holds an ELMoForManyLangs model."""
    return (path / CONFIG_FILE).is_file() and (path / ENCODER_FILE).is_file()


def read_model_dir(
    path: Path, *, stateful: bool = False, token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE
) -> ManyLangsBiLM:
    """Load an ELMoForManyLangs model directory.

    The architecture JSON named by config.json's `config_path` is looked for as their
    package does: at that path under the directory, then by its file name in the
    directory, then among the published architectures.

    path (Path): The model directory.
    stateful (bool): Carry LSTM state across batches (see ElmoBiLM).
    token_cache_size (int): Token-layer cache size (see ElmoBiLM).
    RETURNS (ManyLangsBiLM): The model in eval mode, on the CPU.
    """
    config = _read_json(path / CONFIG_FILE)
    config_path = config.get("config_path") if isinstance(config, dict) else None
    if not isinstance(config_path, str) or not config_path:
        raise ElmoFormatError(f"{path / CONFIG_FILE}: missing key config_path")
    architecture = _find_architecture(path, config_path)
    files = {}
    for name in (CHAR_FILE, WORD_FILE, TOKEN_EMBEDDER_FILE, ENCODER_FILE):
        if (path / name).is_file():
            files[name] = (path / name).read_bytes()
    return bilm_from_files(
        architecture, files, str(path), stateful=stateful, token_cache_size=token_cache_size
    )


def bilm_from_files(
    architecture: Dict[str, Any],
    files: Mapping[str, bytes],
    source: str,
    *,
    stateful: bool = False,
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
) -> ManyLangsBiLM:
    """Build a model from its architecture and the contents of its other files.

    architecture (Dict[str, Any]): The architecture JSON.
    files (Mapping[str, bytes]): char.dic, word.dic, token_embedder.pkl, encoder.pkl.
    source (str): Where they came from, for error messages.
    RETURNS (ManyLangsBiLM): The model in eval mode, on the CPU.
    """
    options, word_dim = architecture_options(architecture, source)
    lexicons: List[Dict[str, int]] = []
    for name, needed in ((WORD_FILE, word_dim > 0), (CHAR_FILE, options.char_dim > 0)):
        if not needed:
            lexicons.append({})
            continue
        if name not in files:
            raise ElmoFormatError(f"{source}: missing {name}")
        try:
            text = files[name].decode("utf8")
        except UnicodeDecodeError as e:
            raise ElmoFormatError(f"{source}/{name}: not UTF-8 text ({e})") from None
        lexicons.append(parse_dictionary(text, f"{source}/{name}"))
    words, chars = lexicons
    options = _with_rows(options, len(chars))
    dictionaries = TokenDictionaries(words, chars, options.max_characters_per_token, source)
    with torch.device("cpu"):
        model = ManyLangsBiLM(
            options,
            dictionaries,
            word_dim=word_dim,
            architecture=architecture,
            stateful=stateful,
            token_cache_size=token_cache_size,
        )
    states = {}
    for name in (TOKEN_EMBEDDER_FILE, ENCODER_FILE):
        if name not in files:
            raise ElmoFormatError(f"{source}: missing {name}")
        states[name] = _load_state_dict(files[name], f"{source}/{name}")
    with torch.no_grad():
        _copy_in(_tensor_map(model), states, source)
    _check_ids(dictionaries, model, source)
    return model.eval()


def architecture_options(architecture: Any, source: str) -> Tuple[ElmoOptions, int]:
    """Validate an architecture JSON and express it as ElmoOptions (n_characters is
    set once char.dic is read) and the word embedding's width."""
    where = f"{source} (architecture)"
    if not isinstance(architecture, dict):
        raise ElmoFormatError(f"{where}: expected a JSON object")
    encoder = _section(architecture, "encoder", where)
    embedder = _section(architecture, "token_embedder", where)
    if str(encoder.get("name", "")).lower() != "elmo":
        raise ElmoFormatError(
            f"{where}: encoder.name is {encoder.get('name')!r}; only ELMo's LSTM encoder "
            "('elmo', every published model's) is supported"
        )
    if str(embedder.get("name", "")).lower() != "cnn":
        raise ElmoFormatError(
            f"{where}: token_embedder.name is {embedder.get('name')!r}; only the character "
            "CNN ('cnn', every published model's) is supported"
        )
    activation = embedder.get("activation")
    if activation not in ACTIVATIONS:
        raise ElmoFormatError(
            f"{where}: token_embedder.activation must be one of {', '.join(ACTIVATIONS)}, "
            f"found {activation!r}"
        )
    filters = embedder.get("filters")
    if not isinstance(filters, list) or not all(
        isinstance(f, list) and len(f) == 2 and all(_is_int(v) and v > 0 for v in f)
        for f in filters
    ):
        raise ElmoFormatError(f"{where}: token_embedder.filters must be [[width, n], ...]")
    char_dim = _int(embedder, "char_dim", where, minimum=0)
    word_dim = _int(embedder, "word_dim", where, minimum=0)
    if char_dim == 0 and word_dim == 0:
        raise ElmoFormatError(f"{where}: char_dim and word_dim are both 0")
    max_chars = _int(embedder, "max_characters_per_token", where, minimum=3)
    if char_dim and filters and max_chars < max(w for w, _ in filters):
        raise ElmoFormatError(f"{where}: max_characters_per_token is below the widest filter")
    clips = []
    for key in ("cell_clip", "proj_clip"):
        value = encoder.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ElmoFormatError(f"{where}: encoder.{key} must be a number >= 0")
        clips.append(float(value) if value else None)  # their cell skips a 0 clip
    options = ElmoOptions(
        char_dim=char_dim,
        filters=tuple((int(w), int(n)) for w, n in filters) if char_dim else (),
        n_highway=_int(embedder, "n_highway", where, minimum=0),
        activation=activation,
        n_characters=0,
        max_characters_per_token=max_chars,
        dim=_int(encoder, "dim", where, minimum=1),
        projection_dim=_int(encoder, "projection_dim", where, minimum=1),
        n_layers=_int(encoder, "n_layers", where, minimum=1),
        cell_clip=clips[0],
        proj_clip=clips[1],
        use_skip_connections=True,
        raw=architecture,
    )
    return options, word_dim


def model_files(
    model: ManyLangsBiLM, architecture_name: str = ARCHITECTURE_FILE
) -> Dict[str, bytes]:
    """The files of a model directory, as bytes.

    model (ManyLangsBiLM): The model.
    architecture_name (str): File name of the architecture JSON, which config.json
        names, so the directory is complete without their package.
    RETURNS (Dict[str, bytes]): File name to contents.
    """
    states: Dict[str, Dict[str, torch.Tensor]] = {TOKEN_EMBEDDER_FILE: {}, ENCODER_FILE: {}}
    for (file, key), (get, _, _) in _tensor_map(model).items():
        states[file][key] = get()
    files = {
        CONFIG_FILE: _json_bytes({"config_path": architecture_name}),
        architecture_name: _json_bytes(model.architecture),
    }
    if model.dictionaries.words:
        files[WORD_FILE] = format_dictionary(model.dictionaries.words).encode("utf8")
    if model.dictionaries.chars:
        files[CHAR_FILE] = format_dictionary(model.dictionaries.chars).encode("utf8")
    for name, state in states.items():
        buffer = io.BytesIO()
        torch.save(OrderedDict(sorted(state.items())), buffer)
        files[name] = buffer.getvalue()
    return files


def write_model_dir(model: ManyLangsBiLM, path: Path, *, overwrite: bool = False) -> None:
    """Write a model directory their package and spacy-elmo both read.

    model (ManyLangsBiLM): The model.
    path (Path): The directory; created if needed.
    overwrite (bool): Replace existing files (otherwise an existing one is an error).
    """
    files = model_files(model)
    path.mkdir(parents=True, exist_ok=True)
    existing = [name for name in files if (path / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{path} already holds {', '.join(existing)}: pass overwrite=True (--force)"
        )
    for name, data in files.items():
        with atomic_path(path / name) as tmp:
            tmp.write_bytes(data)


def bilm_from_model_files(files: Mapping[str, bytes], source: str) -> ManyLangsBiLM:
    """Read back what `model_files` returned (a serialized model).

    files (Mapping[str, bytes]): File name to contents.
    source (str): What the files are, for error messages.
    RETURNS (ManyLangsBiLM): The model in eval mode, on the CPU.
    """
    try:
        config_path = json.loads(files[CONFIG_FILE])["config_path"]
        name = Path(config_path).name
        if name in files:
            architecture = json.loads(files[name])
        else:
            architecture = json.loads(json.dumps(KNOWN_ARCHITECTURES[name]))
    except (KeyError, TypeError, ValueError) as e:
        raise ElmoFormatError(f"{source}: cannot read the model's configuration ({e})") from None
    return bilm_from_files(architecture, files, source)


# name -> (getter in their layout, setter from their layout, their shape)
TensorEntry = Tuple[Any, Any, Tuple[int, ...]]


def _tensor_map(model: ManyLangsBiLM) -> Dict[Tuple[str, str], TensorEntry]:
    """Every tensor of their two state dicts and where it lives in ours."""
    entries: Dict[Tuple[str, str], TensorEntry] = {}
    enc = model.token_encoder
    te = TOKEN_EMBEDDER_FILE
    if enc.word_embed is not None:
        entries[te, "word_emb_layer.embedding.weight"] = _plain(enc.word_embed)
    chars = enc.chars
    if chars is not None:
        entries[te, "char_emb_layer.embedding.weight"] = _plain(chars.char_embed)
        for i, (weight, bias) in enumerate(zip(chars.conv_weights, chars.conv_biases)):
            entries[te, f"convolutions.{i}.weight"] = _plain(weight)
            entries[te, f"convolutions.{i}.bias"] = _plain(bias)
        for k, (weight, bias) in enumerate(zip(chars.highway_weights, chars.highway_biases)):
            entries[te, f"highways._layers.{k}.weight"] = _highway(weight, transposed=True)
            entries[te, f"highways._layers.{k}.bias"] = _highway(bias, transposed=False)
    entries[te, "projection.weight"] = _transposed(enc.proj_weight)
    entries[te, "projection.bias"] = _plain(enc.proj_bias)
    lstm = model.lstm
    for d, direction in enumerate(("forward", "backward")):
        for layer in range(lstm.n_layers):
            prefix = f"{direction}_layer_{layer}."
            entries[ENCODER_FILE, prefix + "input_linearity.weight"] = _gates(
                lstm.input_weights[layer], d
            )
            entries[ENCODER_FILE, prefix + "state_linearity.weight"] = _gates(
                lstm.state_weights[layer], d
            )
            entries[ENCODER_FILE, prefix + "state_linearity.bias"] = _gates(lstm.biases[layer], d)
            entries[ENCODER_FILE, prefix + "state_projection.weight"] = _transposed(
                lstm.proj_weights[layer], d
            )
    return entries


def _plain(param: torch.Tensor) -> TensorEntry:
    return (
        lambda: param.detach().cpu().float().clone(),
        lambda t: param.copy_(t),
        tuple(param.shape),
    )


def _transposed(param: torch.Tensor, d: Optional[int] = None) -> TensorEntry:
    """Their Linear weight (out, in) <-> our (in, out), optionally one direction."""
    target = param if d is None else param[d]
    return (
        lambda: target.detach().cpu().float().t().contiguous(),
        lambda t: target.copy_(t.t()),
        tuple(target.t().shape),
    )


def _gates(param: torch.Tensor, d: int) -> TensorEntry:
    """An LSTM weight (4c, in) or bias (4c,) <-> our direction d, (in, 4c) or (4c,),
    with the gate blocks reordered."""
    target = param[d]
    matrix = target.dim() == 2

    def reorder(t: torch.Tensor, axis: int) -> torch.Tensor:
        return torch.cat([t.chunk(4, dim=axis)[i] for i in GATE_ORDER], dim=axis)

    def get() -> torch.Tensor:
        t = target.detach().cpu().float()
        return reorder(t.t() if matrix else t, 0).contiguous()

    def set_(t: torch.Tensor) -> None:
        t = reorder(t, 0)
        target.copy_(t.t() if matrix else t)

    return get, set_, tuple(target.t().shape if matrix else target.shape)


def _highway(param: torch.Tensor, transposed: bool) -> TensorEntry:
    """Their highway Linear [nonlinear; gate] (2n, n) with y = g * x + (1 - g) * f <->
    our (n, 2n) [transform | carry] with y = c * f + (1 - c) * x: carry = -gate."""
    n = param.shape[-1] // 2

    def get() -> torch.Tensor:
        t = param.detach().cpu().float().clone()
        t[..., n:] = -t[..., n:]
        return t.t().contiguous() if transposed else t

    def set_(t: torch.Tensor) -> None:
        t = t.t() if transposed else t
        param.copy_(torch.cat([t[..., :n], -t[..., n:]], dim=-1))

    return get, set_, tuple(param.t().shape if transposed else param.shape)


def _copy_in(
    entries: Dict[Tuple[str, str], TensorEntry],
    states: Dict[str, Dict[str, Any]],
    source: str,
) -> None:
    for name, state in states.items():
        expected = {key for file, key in entries if file == name}
        missing = sorted(expected - set(state))
        unexpected = sorted(set(state) - expected)
        if missing or unexpected:
            raise ElmoFormatError(
                f"{source}/{name}: does not match the architecture: "
                f"missing {missing[:5] or 'nothing'}, unexpected {unexpected[:5] or 'nothing'}"
            )
    for (file, key), (_, set_, shape) in entries.items():
        value = states[file][key]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            found = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ElmoFormatError(f"{source}/{file}: {key} has shape {found}, expected {shape}")
        set_(value.float())


def _check_ids(dictionaries: TokenDictionaries, model: ManyLangsBiLM, source: str) -> None:
    """Every dictionary id must index a row of its embedding."""
    enc = model.token_encoder
    tables = (
        (dictionaries.words, enc.word_embed, WORD_FILE),
        (dictionaries.chars, enc.chars.char_embed if enc.chars is not None else None, CHAR_FILE),
    )
    for lexicon, table, name in tables:
        if lexicon and table is not None:
            top = max(lexicon.values())
            if top >= table.shape[0]:
                raise ElmoFormatError(
                    f"{source}/{name}: id {top} is outside the embedding's {table.shape[0]} rows"
                )


def _load_state_dict(data: bytes, source: str) -> Dict[str, Any]:
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if found:
            raise ElmoFormatError(
                f"{source}: needs {found[1]}, not only tensors; refusing to unpickle it "
                "(files are read with torch.load(weights_only=True))"
            ) from None
        raise ElmoFormatError(f"{source}: not a PyTorch state dict") from None
    except Exception as e:  # torch raises several types for damaged files
        raise ElmoFormatError(f"{source}: not a PyTorch state dict ({e})") from None
    if not isinstance(state, Mapping):
        raise ElmoFormatError(f"{source}: expected a state dict, found {type(state).__name__}")
    return dict(state)


def architecture_file(path: Path) -> Optional[Path]:
    """The architecture JSON file that a model directory's config.json names, when it
    is in the directory (published models may name one their package ships instead).

    path (Path): The model directory.
    RETURNS (Optional[Path]): The file, or None.
    """
    try:
        config_path = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8-sig"))[
            "config_path"
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(config_path, str) or not config_path:
        return None
    return _architecture_in(path, config_path)


def _architecture_in(path: Path, config_path: str) -> Optional[Path]:
    for candidate in (path / config_path, path / Path(config_path).name):
        if candidate.is_file():
            return candidate
    return None


def _find_architecture(path: Path, config_path: str) -> Dict[str, Any]:
    name = Path(config_path).name
    found = _architecture_in(path, config_path)
    if found is not None:
        return _read_json(found)
    if name in KNOWN_ARCHITECTURES:
        return json.loads(json.dumps(KNOWN_ARCHITECTURES[name]))
    raise ElmoFormatError(
        f"{path / CONFIG_FILE}: its config_path {config_path!r} is neither in the model "
        f"directory nor a published architecture ({', '.join(KNOWN_ARCHITECTURES)}); "
        f"copy the architecture JSON into {path}"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ElmoFormatError(f"{path}: not found") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ElmoFormatError(f"{path}: not valid JSON ({e})") from None


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf8")


def _section(d: Dict[str, Any], key: str, where: str) -> Dict[str, Any]:
    value = d.get(key)
    if not isinstance(value, dict):
        raise ElmoFormatError(f"{where}: missing section {key}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(d: Dict[str, Any], key: str, where: str, *, minimum: int) -> int:
    value = d.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ElmoFormatError(f"{where}: {key} must be an integer >= {minimum}, found {value!r}")
    return int(value)


def _with_rows(options: ElmoOptions, n_characters: int) -> ElmoOptions:
    return replace(options, n_characters=n_characters)
