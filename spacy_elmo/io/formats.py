"""The kinds of biLM files, behind one interface: which kind a folder or a biLM is,
and how each kind is read, written, serialized and checksummed.

Two kinds exist: bilm-tf's `options.json` + `weights.hdf5` (AllenNLP's and our own
pretrained models; `io/weights.py` reads and writes them) and ELMoForManyLangs's
model directories (`io/manylangs_files.py`). Nothing else in the package asks
which kind it holds: it asks this module.
"""

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import srsly

from ..bilm.manylangs import ManyLangsBiLM
from ..bilm.model import DEFAULT_TOKEN_CACHE_SIZE, ElmoBiLM
from ..errors import ElmoFormatError
from . import manylangs_files
from .weights import (
    OPTIONS_FILE,
    WEIGHTS_FILE,
    bilm_from_bytes,
    bilm_to_bytes,
    load_weights_files,
    save_weights_files,
)

BILM_TF = "bilm-tf"
MANYLANGS = "elmoformanylangs"


@dataclass(frozen=True)
class BiLMFiles:
    """A biLM's files on disk, as a weights reference resolved them.

    kind (str): The kind of files, "bilm-tf" or "elmoformanylangs".
    folder (Path): The directory of the model (of its weights file, for a pair of
        files given one by one).
    paths (Mapping[str, Path]): Each file of the model by its role, which is its
        usual name ("options.json", "weights.hdf5"; "config.json", "encoder.pkl", ...).
    """

    kind: str
    folder: Path
    paths: Mapping[str, Path]

    @property
    def options(self) -> Path:
        """The file that describes the architecture (options.json, config.json)."""
        return self.paths[format_named(self.kind).options_file]

    @property
    def weights(self) -> Path:
        """The main weights file (weights.hdf5, encoder.pkl)."""
        return self.paths[format_named(self.kind).weights_file]


class BiLMFormat(ABC):
    """One kind of biLM files."""

    kind: str
    description: str
    options_file: str
    weights_file: str
    # The key that tells this kind's serialized message apart.
    message_key: str

    @abstractmethod
    def holds(self, folder: Path) -> bool:
        """Whether a folder holds a model of this kind."""

    @abstractmethod
    def owns(self, bilm: ElmoBiLM) -> bool:
        """Whether a biLM is saved as this kind."""

    @abstractmethod
    def files_in(self, folder: Path) -> BiLMFiles:
        """The model files of a folder that `holds` one."""

    @abstractmethod
    def read(self, files: BiLMFiles, *, stateful: bool, token_cache_size: int) -> ElmoBiLM:
        """Build the biLM from its files."""

    @abstractmethod
    def write(self, bilm: ElmoBiLM, folder: Path, *, overwrite: bool) -> None:
        """Write the biLM's files into a folder."""

    @abstractmethod
    def to_message(self, bilm: ElmoBiLM) -> Dict[str, Any]:
        """The biLM as a msgpack-able dict (for to_bytes)."""

    @abstractmethod
    def from_message(self, msg: Mapping[str, Any], source: str) -> ElmoBiLM:
        """Read back what `to_message` gave."""

    def is_message(self, msg: Mapping[str, Any]) -> bool:
        """Whether a dict from `to_message` is of this kind."""
        return self.message_key in msg


class BilmTfFiles(BiLMFormat):
    """bilm-tf's options.json + weights.hdf5 (AllenNLP's models, `pretrain`'s output)."""

    kind = BILM_TF
    description = f"{OPTIONS_FILE} + {WEIGHTS_FILE}"
    options_file = OPTIONS_FILE
    weights_file = WEIGHTS_FILE
    message_key = "weights"

    def holds(self, folder: Path) -> bool:
        # Either file alone counts, so that the reader names the missing one.
        return (folder / OPTIONS_FILE).exists() or (folder / WEIGHTS_FILE).exists()

    def owns(self, bilm: ElmoBiLM) -> bool:
        return not isinstance(bilm, ManyLangsBiLM)

    def files_in(self, folder: Path) -> BiLMFiles:
        return self.pair(folder / OPTIONS_FILE, folder / WEIGHTS_FILE)

    def pair(self, options: Path, weights: Path) -> BiLMFiles:
        """The files of an options and a weights file named one by one."""
        paths = {OPTIONS_FILE: options, WEIGHTS_FILE: weights}
        return BiLMFiles(self.kind, weights.parent, paths)

    def read(self, files: BiLMFiles, *, stateful: bool, token_cache_size: int) -> ElmoBiLM:
        return load_weights_files(
            files.options, files.weights, stateful=stateful, token_cache_size=token_cache_size
        )

    def write(self, bilm: ElmoBiLM, folder: Path, *, overwrite: bool) -> None:
        save_weights_files(bilm, folder, overwrite=overwrite)

    def to_message(self, bilm: ElmoBiLM) -> Dict[str, Any]:
        return {"options": bilm.options.raw, "weights": bilm_to_bytes(bilm)}

    def from_message(self, msg: Mapping[str, Any], source: str) -> ElmoBiLM:
        return bilm_from_bytes(msg["options"], msg["weights"], source)


class ManyLangsFiles(BiLMFormat):
    """ELMoForManyLangs's model directories (config.json, its architecture JSON,
    char.dic, word.dic, token_embedder.pkl, encoder.pkl)."""

    kind = MANYLANGS
    description = (
        f"an ELMoForManyLangs model ({manylangs_files.CONFIG_FILE}, "
        f"{manylangs_files.ENCODER_FILE}, ...)"
    )
    options_file = manylangs_files.CONFIG_FILE
    weights_file = manylangs_files.ENCODER_FILE
    message_key = "elmoformanylangs"

    def holds(self, folder: Path) -> bool:
        return manylangs_files.is_model_dir(folder)

    def owns(self, bilm: ElmoBiLM) -> bool:
        return isinstance(bilm, ManyLangsBiLM)

    def files_in(self, folder: Path) -> BiLMFiles:
        paths = {name: folder / name for name in manylangs_files.MODEL_FILES}
        architecture = manylangs_files.architecture_file(folder)
        if architecture is not None:
            paths[architecture.name] = architecture
        return BiLMFiles(self.kind, folder, paths)

    def read(self, files: BiLMFiles, *, stateful: bool, token_cache_size: int) -> ElmoBiLM:
        return manylangs_files.read_model_dir(
            files.folder, stateful=stateful, token_cache_size=token_cache_size
        )

    def write(self, bilm: ElmoBiLM, folder: Path, *, overwrite: bool) -> None:
        assert isinstance(bilm, ManyLangsBiLM)
        manylangs_files.write_model_dir(bilm, folder, overwrite=overwrite)

    def to_message(self, bilm: ElmoBiLM) -> Dict[str, Any]:
        assert isinstance(bilm, ManyLangsBiLM)
        return {self.message_key: manylangs_files.model_files(bilm)}

    def from_message(self, msg: Mapping[str, Any], source: str) -> ElmoBiLM:
        return manylangs_files.bilm_from_model_files(msg[self.message_key], source)


BILM_TF_FILES = BilmTfFiles()
MANYLANGS_FILES = ManyLangsFiles()
FORMATS: Tuple[BiLMFormat, ...] = (BILM_TF_FILES, MANYLANGS_FILES)


def format_named(kind: str) -> BiLMFormat:
    """The format of a kind's name ("bilm-tf", "elmoformanylangs")."""
    for fmt in FORMATS:
        if fmt.kind == kind:
            return fmt
    raise ValueError(f"Unknown kind of biLM files: {kind!r}")


def format_of_folder(folder: Path) -> Optional[BiLMFormat]:
    """The kind of model a folder holds, or None."""
    for fmt in FORMATS:
        if fmt.holds(folder):
            return fmt
    return None


def format_of_bilm(bilm: ElmoBiLM) -> BiLMFormat:
    """The kind of files a biLM is saved as."""
    return next(fmt for fmt in FORMATS if fmt.owns(bilm))


def files_in_folder(folder: Path) -> Optional[BiLMFiles]:
    """The model files a folder holds, or None when it holds no model."""
    fmt = format_of_folder(folder)
    return None if fmt is None else fmt.files_in(folder)


def folder_kinds_text() -> str:
    """What a model folder may hold, for error messages."""
    return ", or ".join(fmt.description for fmt in FORMATS)


def read_bilm(
    files: BiLMFiles, *, stateful: bool = False, token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE
) -> ElmoBiLM:
    """Build a biLM from its files.

    files (BiLMFiles): The files, from resolve_weights or files_in_folder.
    stateful (bool): Carry LSTM state across batches (see ElmoBiLM).
    token_cache_size (int): Token-layer cache size (see ElmoBiLM).
    RETURNS (ElmoBiLM): The model in eval mode, on the CPU.
    """
    fmt = format_named(files.kind)
    return fmt.read(files, stateful=stateful, token_cache_size=token_cache_size)


def write_bilm(bilm: ElmoBiLM, folder: Path, *, overwrite: bool = False) -> BiLMFiles:
    """Write a biLM's files in its own kind, and, when overwriting, remove the files
    of another kind of biLM the folder held, so that it holds one model only.

    bilm (ElmoBiLM): The model.
    folder (Path): The directory; created if needed.
    overwrite (bool): Replace existing model files (otherwise they are an error).
    RETURNS (BiLMFiles): The files written.
    """
    fmt = format_of_bilm(bilm)
    folder.mkdir(parents=True, exist_ok=True)
    stale = [
        path
        for other in FORMATS
        if other is not fmt and other.holds(folder)
        for path in other.files_in(folder).paths.values()
        # only the other model's own files in this folder, never a file it names elsewhere
        if path.is_file() and path.resolve().parent == folder.resolve()
    ]
    if stale and not overwrite:
        raise FileExistsError(
            f"{folder} already holds another biLM's {', '.join(p.name for p in stale)}: "
            "use --force (overwrite=True) to replace it"
        )
    fmt.write(bilm, folder, overwrite=overwrite)
    for path in stale:
        path.unlink(missing_ok=True)
    return fmt.files_in(folder)


def bilm_to_message(bilm: ElmoBiLM) -> bytes:
    """A biLM as msgpack bytes (the files of its kind; nothing is pickled)."""
    return srsly.msgpack_dumps(format_of_bilm(bilm).to_message(bilm))


def bilm_from_message(data: bytes, source: str) -> ElmoBiLM:
    """Read what bilm_to_message wrote.

    data (bytes): The msgpack bytes.
    source (str): What they are, for error messages.
    RETURNS (ElmoBiLM): The model in eval mode, on the CPU.
    """
    try:
        msg = srsly.msgpack_loads(data)
        fmt = next((f for f in FORMATS if isinstance(msg, dict) and f.is_message(msg)), None)
        if fmt is None:
            raise ElmoFormatError(f"{source}: not a serialized biLM")
        return fmt.from_message(msg, source)
    except ElmoFormatError:
        raise
    except Exception as e:  # msgpack raises several types for corrupt data
        raise ElmoFormatError(f"{source}: cannot read the serialized biLM: {e}") from None


def checksum(files: BiLMFiles) -> str:
    """The SHA-256 of every file of a model, so that two references to equal files
    give equal checksums wherever they lie: over each file's role and bytes, in
    order of role.

    files (BiLMFiles): The model's files.
    RETURNS (str): The hex digest.
    """
    digest = hashlib.sha256()
    for role in sorted(files.paths):
        path = files.paths[role]
        if not path.is_file():
            continue
        digest.update(f"{role}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def present_files(files: BiLMFiles) -> List[str]:
    """The roles of the model's files that exist."""
    return [role for role, path in sorted(files.paths.items()) if path.is_file()]
