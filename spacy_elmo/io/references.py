"""The one resolver: any weights reference to a biLM's files."""

import os
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

from ..bilm.model import DEFAULT_TOKEN_CACHE_SIZE, ElmoBiLM
from ..errors import ElmoFormatError
from . import hub, packaged
from .formats import BILM_TF_FILES, BiLMFiles, files_in_folder, folder_kinds_text, read_bilm

WeightsRef = Union[str, "os.PathLike[str]", Tuple[Any, Any], List[Any], Dict[str, Any], ElmoBiLM]
ELMO_FACTORY = "elmo"

ACCEPTED = (
    "an (options.json, weights.hdf5) pair, a {'options': ..., 'weights': ...} dict, a directory "
    f"holding {folder_kinds_text()}, a saved spaCy pipeline with an "
    f"'{ELMO_FACTORY}' component, a shipped model's name ({', '.join(packaged.PACKAGED_MODELS)}) "
    f"or a published model's name ({hub.names_text()})"
)
DEFAULT_WEIGHTS = packaged.DEFAULT_MODEL


def resolve_weights(ref: WeightsRef) -> BiLMFiles:
    """Find the files of the biLM a reference points to.

    ref (WeightsRef): An (options, weights) pair or dict (or the string
        "OPTIONS,WEIGHTS"), a directory holding
        options.json and weights.hdf5 (what pretraining writes), an ELMoForManyLangs
        model directory, a saved spaCy
        pipeline (its `elmo` component's directory holds the model's files; name the
        component as `PIPELINE/COMPONENT` if it has several), the name of a
        model shipped in the package (e.g. "en-open-3m", the default), or a
        published model's name, looked up in the download cache.
    RETURNS (BiLMFiles): The kind of files, their folder and each file.
    """
    if isinstance(ref, dict):
        if set(ref) != {"options", "weights"}:
            raise ElmoFormatError(
                "A weights dict needs exactly the keys 'options' and 'weights', "
                f"found {sorted(ref)}"
            )
        return BILM_TF_FILES.pair(Path(ref["options"]), Path(ref["weights"]))
    if isinstance(ref, (tuple, list)):
        if len(ref) != 2:
            raise ElmoFormatError(
                f"A weights pair is (options.json, weights.hdf5), found {len(ref)} items"
            )
        return BILM_TF_FILES.pair(Path(ref[0]), Path(ref[1]))
    if not isinstance(ref, (str, os.PathLike)):
        raise ElmoFormatError(
            f"Cannot use {type(ref).__name__} as ELMo weights: expected {ACCEPTED}"
        )
    if not str(ref).strip():
        raise ElmoFormatError(
            "The ELMo weights reference is an empty string: name the weights, or leave "
            f"the setting null (None) for the shipped biLM ({DEFAULT_WEIGHTS})"
        )
    path = Path(ref)
    if isinstance(ref, str) and ref.count(",") == 1 and not path.exists():
        options, weights = ref.split(",")  # "options.json,weights.hdf5", e.g. from a CLI
        return BILM_TF_FILES.pair(Path(options), Path(weights))
    if path.is_dir():
        files = files_in_folder(path)
        if files is not None:
            return files
        if (path / "config.cfg").is_file():
            return _pipeline_files(path, None)
        raise ElmoFormatError(
            f"{path} holds no biLM ({folder_kinds_text()}) and no spaCy pipeline's config.cfg"
        )
    if (path.parent / "config.cfg").is_file() and not path.exists():
        return _pipeline_files(path.parent, path.name)
    shipped = packaged.packaged_dir(str(ref))
    if shipped is not None:
        files = files_in_folder(shipped)
        if files is None or not files.weights.is_file():
            raise ElmoFormatError(
                f"The shipped model '{ref!s}' has no model files in {shipped}: reinstall spacy-elmo"
            )
        return files
    name = hub.canonical_name(str(ref))
    if name is not None:
        directory = hub.model_dir(name)
        files = files_in_folder(directory)
        if files is None or not files.weights.is_file():
            raise ElmoFormatError(
                f"The published model '{name}' is not in the cache ({directory}): run "
                f"`python -m spacy_elmo download {name}`, or put its files there"
            )
        return files
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
    files = resolve_weights(ref)
    return read_bilm(files, stateful=stateful, token_cache_size=token_cache_size)


def _pipeline_files(pipeline: Path, component: Union[str, None]) -> BiLMFiles:
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
    files = files_in_folder(directory)
    if files is None:
        raise ElmoFormatError(
            f"{directory}: the saved '{names[0]}' component holds no biLM files "
            f"({folder_kinds_text()})"
        )
    return files
