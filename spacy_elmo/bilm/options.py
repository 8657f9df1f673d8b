"""ELMo model options: the `options.json` schema, its validation, published sizes."""

import copy
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ElmoFormatError

ACTIVATIONS = ("relu", "tanh")
PUBLISHED_FILTERS = [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]]


def make_options(
    *,
    dim: int,
    projection_dim: int,
    n_layers: int = 2,
    n_highway: int = 1,
    filters: Optional[List[List[int]]] = None,
    char_dim: int = 16,
    activation: str = "relu",
    cell_clip: Optional[float] = 3.0,
    proj_clip: Optional[float] = 3.0,
    use_skip_connections: bool = True,
    max_characters_per_token: int = 50,
) -> Dict[str, Any]:
    """Build an options.json dict (defaults are those of the published models).

    RETURNS (Dict[str, Any]): The options, in the original file's schema.
    """
    lstm: Dict[str, Any] = {
        "dim": dim,
        "projection_dim": projection_dim,
        "n_layers": n_layers,
        "use_skip_connections": use_skip_connections,
    }
    if cell_clip is not None:
        lstm["cell_clip"] = cell_clip
    if proj_clip is not None:
        lstm["proj_clip"] = proj_clip
    return {
        "lstm": lstm,
        "char_cnn": {
            "activation": activation,
            "embedding": {"dim": char_dim},
            "filters": copy.deepcopy(filters if filters is not None else PUBLISHED_FILTERS),
            "n_highway": n_highway,
            "n_characters": 262,
            "max_characters_per_token": max_characters_per_token,
        },
    }


PUBLISHED_OPTIONS: Dict[str, Dict[str, Any]] = {
    "small": make_options(dim=1024, projection_dim=128, n_highway=1),
    "medium": make_options(dim=2048, projection_dim=256, n_highway=1),
    "original": make_options(dim=4096, projection_dim=512, n_highway=2),
}


@dataclass(frozen=True)
class ElmoOptions:
    """Validated options of one biLM. `raw` keeps the file's dict (extra keys
    included), so that writing the model back reproduces it."""

    char_dim: int
    filters: Tuple[Tuple[int, int], ...]
    n_highway: int
    activation: str
    n_characters: int
    max_characters_per_token: int
    dim: int
    projection_dim: int
    n_layers: int
    cell_clip: Optional[float]
    proj_clip: Optional[float]
    use_skip_connections: bool
    raw: Dict[str, Any]

    @property
    def n_filters(self) -> int:
        """Total width of the character CNN's output."""
        return sum(n for _, n in self.filters)

    @property
    def output_dim(self) -> int:
        """Width of every returned layer: forward and backward concatenated."""
        return 2 * self.projection_dim

    @classmethod
    def from_dict(cls, options: Dict[str, Any], source: str = "options") -> "ElmoOptions":
        """Validate an options.json dict.

        options (Dict[str, Any]): The parsed JSON.
        source (str): Where it came from, for error messages.
        RETURNS (ElmoOptions): The validated options.
        """
        lstm = _section(options, "lstm", source)
        cnn = _section(options, "char_cnn", source)
        embedding = _section(cnn, "embedding", source, "char_cnn.")
        filters_raw = _get(cnn, "filters", source, "char_cnn.", list)
        filters = []
        for i, pair in enumerate(filters_raw):
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair)
            ):
                raise ElmoFormatError(
                    f"{source}: char_cnn.filters[{i}] must be [width, n_filters] "
                    f"(two positive ints), found {pair!r}"
                )
            filters.append((int(pair[0]), int(pair[1])))
        if not filters:
            raise ElmoFormatError(f"{source}: char_cnn.filters is empty")
        activation = _get(cnn, "activation", source, "char_cnn.", str)
        if activation not in ACTIVATIONS:
            raise ElmoFormatError(
                f"{source}: unknown char_cnn.activation {activation!r}; "
                f"expected one of {', '.join(ACTIVATIONS)}"
            )
        n_characters = _get(cnn, "n_characters", source, "char_cnn.", int)
        if n_characters not in (261, 262):
            raise ElmoFormatError(
                f"{source}: char_cnn.n_characters must be 261 or 262, found {n_characters}"
            )
        max_chars = _get(cnn, "max_characters_per_token", source, "char_cnn.", int)
        widest = max(w for w, _ in filters)
        if max_chars < max(3, widest):
            raise ElmoFormatError(
                f"{source}: char_cnn.max_characters_per_token ({max_chars}) is smaller "
                f"than the widest filter ({widest}) or 3"
            )
        return cls(
            char_dim=_positive(embedding, "dim", source, "char_cnn.embedding."),
            filters=tuple(filters),
            n_highway=_non_negative(cnn, "n_highway", source, "char_cnn."),
            activation=activation,
            n_characters=n_characters,
            max_characters_per_token=max_chars,
            dim=_positive(lstm, "dim", source, "lstm."),
            projection_dim=_positive(lstm, "projection_dim", source, "lstm."),
            n_layers=_positive(lstm, "n_layers", source, "lstm."),
            cell_clip=_clip(lstm, "cell_clip", source),
            proj_clip=_clip(lstm, "proj_clip", source),
            use_skip_connections=_flag(lstm, "use_skip_connections", source, "lstm."),
            raw=copy.deepcopy(options),
        )


def _section(d: Dict[str, Any], key: str, source: str, prefix: str = "") -> Dict[str, Any]:
    return _get(d, key, source, prefix, dict)


def _get(d: Dict[str, Any], key: str, source: str, prefix: str, kind: type) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise ElmoFormatError(f"{source}: missing key {prefix}{key}")
    value = d[key]
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ElmoFormatError(
            f"{source}: {prefix}{key} must be {kind.__name__}, "
            f"found {type(value).__name__} {value!r}"
        )
    return value


def _positive(d: Dict[str, Any], key: str, source: str, prefix: str) -> int:
    value = _get(d, key, source, prefix, int)
    if value < 1:
        raise ElmoFormatError(f"{source}: {prefix}{key} must be positive, found {value}")
    return value


def _non_negative(d: Dict[str, Any], key: str, source: str, prefix: str) -> int:
    value = _get(d, key, source, prefix, int)
    if value < 0:
        raise ElmoFormatError(f"{source}: {prefix}{key} must be 0 or more, found {value}")
    return value


def _flag(d: Dict[str, Any], key: str, source: str, prefix: str) -> bool:
    """A true/false option; absent means false (bilm-tf's default)."""
    if key not in d:
        return False
    return _get(d, key, source, prefix, bool)


def _clip(lstm: Dict[str, Any], key: str, source: str) -> Optional[float]:
    value = lstm.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ElmoFormatError(
            f"{source}: lstm.{key} must be a finite non-negative number, found {value!r}"
        )
    return float(value)
