"""Pretraining settings, in spaCy's config format, with presets per model size.

`default_config(preset)` gives a complete config; a user's file is read over it,
and `--section.key value` overrides apply last (as `spacy train` does). Unknown
sections or keys, and values of the wrong type, are errors that name the key.
"""

from pathlib import Path
from typing import Any, Dict, Optional

from thinc.api import Config

from ..bilm.options import PUBLISHED_OPTIONS
from .optim import LR_DECAYS, OPTIMIZERS

# The model sections of the presets: make_options' arguments.
CPU_FILTERS = [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256]]
PRESET_MODELS: Dict[str, Dict[str, Any]] = {
    "cpu": {"dim": 512, "projection_dim": 128, "n_highway": 1, "filters": CPU_FILTERS},
    "tiny": {"dim": 64, "projection_dim": 16, "n_highway": 1, "filters": [[1, 8], [2, 8], [3, 16]]},
}
for _name, _opts in PUBLISHED_OPTIONS.items():
    PRESET_MODELS[_name] = {
        "dim": _opts["lstm"]["dim"],
        "projection_dim": _opts["lstm"]["projection_dim"],
        "n_highway": _opts["char_cnn"]["n_highway"],
        "filters": _opts["char_cnn"]["filters"],
    }
PRESETS = tuple(PRESET_MODELS)

TEMPLATE = """
[paths]
train = null
heldout = null
init_weights = null

[system]
seed = 0
threads = 0
gpu_id = -1

[corpus]
train = ${paths.train}
heldout = ${paths.heldout}
spacy_model = "blank:en"

[vocab]
min_count = 3
max_size = 100000

[model]
dim = 512
projection_dim = 128
n_layers = 2
n_highway = 1
filters = [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256]]
char_dim = 16
activation = "relu"
cell_clip = 3.0
proj_clip = 3.0
use_skip_connections = true
max_characters_per_token = 50

[softmax]
kind = "adaptive"
n_samples = 8192
cutoffs = [4000, 20000]
div_value = 4.0

[training]
init_weights = ${paths.init_weights}
batch_size = 128
unroll_steps = 20
dropout = 0.1
optimizer = "adagrad"
learn_rate = 0.2
initial_accumulator = 1.0
weight_decay = 0.0
warmup_steps = 0
lr_decay = "constant"
clip_norm = 10.0
max_epochs = 10
max_steps = 0
max_minutes = 0.0
log_every = 50
eval_every = 1000
eval_batch_size = 64
max_eval_tokens = 100000
checkpoint_every = 200
"""

# Keys whose value may be null (None) as well as their default's type.
NULLABLE = {
    ("paths", "train"),
    ("paths", "heldout"),
    ("paths", "init_weights"),
    ("corpus", "train"),
    ("corpus", "heldout"),
    ("training", "init_weights"),
    ("model", "cell_clip"),
    ("model", "proj_clip"),
}


def default_config(preset: str = "cpu") -> Config:
    """The complete default config of a preset ('cpu', 'tiny', 'small', 'medium',
    'original'): the recipe's training settings and the preset's model sizes.

    RETURNS (Config): The config, not interpolated.
    """
    if preset not in PRESET_MODELS:
        raise ValueError(f"Unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
    config = Config().from_str(TEMPLATE, interpolate=False)
    config["model"].update(PRESET_MODELS[preset])
    return config


def load_config(
    path: Optional[Path], preset: str = "cpu", overrides: Optional[Dict[str, Any]] = None
) -> Config:
    """Read a config file over a preset's defaults and apply CLI overrides.

    path (Optional[Path]): A config file; the preset alone when None.
    preset (str): The preset that fills what the file leaves out.
    overrides (Optional[Dict[str, Any]]): Dotted keys ('training.max_steps') to values.
    RETURNS (Config): The interpolated, validated config.
    """
    config = default_config(preset)
    if path is not None:
        if not path.is_file():
            raise FileNotFoundError(f"Config file not found: {path}")
        user = Config().from_disk(path, interpolate=False)
        _check_keys(user, config, str(path))
        config = config.merge(user)
    overrides = dict(overrides or {})
    _check_keys(_nest(overrides), config, "the command-line overrides")
    config = Config(config).from_str(config.to_str(), overrides=overrides)
    _check_types(config)
    return config


def _nest(overrides: Dict[str, Any]) -> Dict[str, Any]:
    nested: Dict[str, Any] = {}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        if not name:
            raise ValueError(f"Override {key!r} must be written as --section.key")
        nested.setdefault(section, {})[name] = value
    return nested


def _check_keys(user: Dict[str, Any], defaults: Dict[str, Any], source: str) -> None:
    for section, values in user.items():
        if section not in defaults:
            raise ValueError(
                f"Unknown section [{section}] in {source}; "
                f"sections are {', '.join(sorted(defaults))}"
            )
        for key in values:
            if key not in defaults[section]:
                raise ValueError(
                    f"Unknown setting {key!r} in [{section}] of {source}; "
                    f"settings are {', '.join(sorted(defaults[section]))}"
                )


def _check_types(config: Config) -> None:
    defaults = default_config("cpu").interpolate()
    for section, values in config.items():
        for key, value in values.items():
            expected = defaults[section][key]
            if value is None and (section, key) in NULLABLE:
                continue
            ok = isinstance(value, type(expected)) if expected is not None else True
            if isinstance(expected, float) and isinstance(value, int):
                ok = not isinstance(value, bool)
            if isinstance(expected, int) and isinstance(value, bool):
                ok = isinstance(expected, bool)
            if not ok:
                raise ValueError(
                    f"[{section}] {key} must be a {type(expected).__name__}, found {value!r}"
                )
    for key, allowed in (("optimizer", OPTIMIZERS), ("lr_decay", LR_DECAYS)):
        if config["training"][key] not in allowed:
            raise ValueError(
                f"[training] {key} must be one of {', '.join(allowed)}, "
                f"found {config['training'][key]!r}"
            )
