"""The one resolver: any weights reference to a biLM."""

import os
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

from ..bilm.model import DEFAULT_TOKEN_CACHE_SIZE, ElmoBiLM
from ..errors import ElmoFormatError
from . import hub, manylangs_files, packaged
from .weights import OPTIONS_FILE, WEIGHTS_FILE, load_weights_files

WeightsRef = Union[str, "os.PathLike[str]", Tuple[Any, Any], List[Any], Dict[str, Any], ElmoBiLM]
ELMO_FACTORY = "elmo"

ACCEPTED = (
    "an (options.json, weights.hdf5) pair, a {'options': ..., 'weights': ...} dict, a directory "
    f"holding {OPTIONS_FILE} and {WEIGHTS_FILE}, an ELMoForManyLangs model directory "
    f"({manylangs_files.CONFIG_FILE}, {manylangs_files.ENCODER_FILE}, ...), a saved spaCy "
    "pipeline with an "
    f"'{ELMO_FACTORY}' component, a shipped model's name ({', '.join(packaged.PACKAGED_MODELS)}) "
    f"or a published model's name ({hub.names_text()})"
)
DEFAULT_WEIGHTS = packaged.DEFAULT_MODEL


def resolve_weights(ref: WeightsRef) -> Tuple[Path, Path]:
    """Find the options and weights files a reference points to.

    ref (WeightsRef): An (options, weights) pair or dict (or the string
        "OPTIONS,WEIGHTS"), a directory holding
        options.json and weights.hdf5 (what pretraining writes), an ELMoForManyLangs
        model directory (resolved to its config.json and encoder.pkl), a saved spaCy
        pipeline (its `elmo` component's directory holds the two files; name the
        component as `PIPELINE/COMPONENT` if it has several), the name of a
        model shipped in the package (e.g. "en-open-3m", the default), or a
        published model's name, looked up in the download cache.
    RETURNS (Tuple[Path, Path]): The options.json and weights.hdf5 paths, or an
        ELMoForManyLangs directory's config.json and encoder.pkl.
    """
    if isinstance(ref, dict):
        if set(ref) != {"options", "weights"}:
            raise ElmoFormatError(
                "A weights dict needs exactly the keys 'options' and 'weights', "
                f"found {sorted(ref)}"
            )
        return Path(ref["options"]), Path(ref["weights"])
    if isinstance(ref, (tuple, list)):
        if len(ref) != 2:
            raise ElmoFormatError(
                f"A weights pair is (options.json, weights.hdf5), found {len(ref)} items"
            )
        return Path(ref[0]), Path(ref[1])
    if not isinstance(ref, (str, os.PathLike)):
        raise ElmoFormatError(
            f"Cannot use {type(ref).__name__} as ELMo weights: expected {ACCEPTED}"
        )
    path = Path(ref)
    if isinstance(ref, str) and ref.count(",") == 1 and not path.exists():
        options, weights = ref.split(",")  # "options.json,weights.hdf5", e.g. from a CLI
        return Path(options), Path(weights)
    if path.is_dir():
        if (path / OPTIONS_FILE).exists() or (path / WEIGHTS_FILE).exists():
            return path / OPTIONS_FILE, path / WEIGHTS_FILE
        if manylangs_files.is_model_dir(path):
            return path / manylangs_files.CONFIG_FILE, path / manylangs_files.ENCODER_FILE
        if (path / "config.cfg").is_file():
            return _pipeline_files(path, None)
        raise ElmoFormatError(
            f"{path} holds neither {OPTIONS_FILE} + {WEIGHTS_FILE}, nor an ELMoForManyLangs "
            f"model's {manylangs_files.CONFIG_FILE} + {manylangs_files.ENCODER_FILE}, "
            "nor a spaCy pipeline's config.cfg"
        )
    if (path.parent / "config.cfg").is_file() and not path.exists():
        return _pipeline_files(path.parent, path.name)
    shipped = packaged.packaged_dir(str(ref))
    if shipped is not None:
        if not (shipped / WEIGHTS_FILE).is_file():
            raise ElmoFormatError(
                f"The shipped model '{ref!s}' has no {WEIGHTS_FILE} in {shipped}: "
                "reinstall spacy-elmo"
            )
        return shipped / OPTIONS_FILE, shipped / WEIGHTS_FILE
    name = hub.canonical_name(str(ref))
    if name is not None:
        directory = hub.model_dir(name)
        if hub.is_manylangs(name):
            if not manylangs_files.is_model_dir(directory):
                raise ElmoFormatError(
                    f"The published model '{name}' is not in the cache ({directory}): run "
                    f"`python -m spacy_elmo download {name}`, or unzip its archive there"
                )
            return directory / manylangs_files.CONFIG_FILE, directory / manylangs_files.ENCODER_FILE
        if not (directory / WEIGHTS_FILE).is_file():
            raise ElmoFormatError(
                f"The published model '{name}' is not in the cache ({directory}): run "
                f"`python -m spacy_elmo download {name}`, or put its files there as "
                f"{OPTIONS_FILE} and {WEIGHTS_FILE}"
            )
        return directory / OPTIONS_FILE, directory / WEIGHTS_FILE
    raise ElmoFormatError(f"ELMo weights not found: {ref!s} is not {ACCEPTED}")


def load_bilm(
    ref: WeightsRef,
    *,
    stateful: bool = False,
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
) -> ElmoBiLM:
    """Load a biLM from any weights reference (see resolve_weights).

    ref (WeightsRef): The weights reference, or an ElmoBiLM, returned as it is.
    stateful (bool): Carry LSTM state across batches (see ElmoBiLM).
    token_cache_size (int): Token-layer cache size (see ElmoBiLM).
    RETURNS (ElmoBiLM): The model in eval mode, on the CPU.
    """
    if isinstance(ref, ElmoBiLM):
        return ref
    options_path, weights_path = resolve_weights(ref)
    if options_path.name == manylangs_files.CONFIG_FILE and manylangs_files.is_model_dir(
        options_path.parent
    ):
        return manylangs_files.read_model_dir(
            options_path.parent, stateful=stateful, token_cache_size=token_cache_size
        )
    return load_weights_files(
        options_path, weights_path, stateful=stateful, token_cache_size=token_cache_size
    )


def _pipeline_files(pipeline: Path, component: Union[str, None]) -> Tuple[Path, Path]:
    from thinc.api import Config

    try:
        config = Config().from_disk(pipeline / "config.cfg", interpolate=False)
    except Exception as e:  # thinc raises several types for unparsable configs
        raise ElmoFormatError(f"{pipeline / 'config.cfg'}: cannot read the config: {e}") from None
    components = config.get("components", {})
    names = [n for n, c in components.items() if c.get("factory") == ELMO_FACTORY]
    if component is not None:
        if component not in names:
            raise ElmoFormatError(
                f"{pipeline}: no '{ELMO_FACTORY}' component named '{component}' "
                f"(found: {', '.join(names) or 'none'})"
            )
        names = [component]
    if len(names) != 1:
        raise ElmoFormatError(
            f"{pipeline}: expected one '{ELMO_FACTORY}' component, found "
            f"{len(names)} ({', '.join(names) or 'none'}); name one as {pipeline}/NAME"
        )
    directory = pipeline / names[0]
    if manylangs_files.is_model_dir(directory):
        return directory / manylangs_files.CONFIG_FILE, directory / manylangs_files.ENCODER_FILE
    return directory / OPTIONS_FILE, directory / WEIGHTS_FILE
