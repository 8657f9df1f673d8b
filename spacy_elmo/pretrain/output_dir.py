"""A pretraining run's output directory: which files are ours, whether a directory
may be used (empty, or a run of ours to resume), the saved config and the progress
log (`train_log.jsonl`, one JSON record a line)."""

import json
from pathlib import Path
from typing import Any, Dict

from thinc.api import Config

from ..io.atomic import atomic_path, check_replaceable, remove_stale_temporaries
from ..io.weights import OPTIONS_FILE, WEIGHTS_FILE
from .checkpoint import CHECKPOINT_FILE
from .corpus import SOURCE_FILE, TOKENS_FILE, TYPES_FILE
from .model_files import SOFTMAX_FILE, VOCAB_FILE

CONFIG_FILE = "config.cfg"
LOG_FILE = "train_log.jsonl"
# The tokenised corpora, one directory per split.
CORPUS_DIR = "corpus"
OUR_FILES = {CHECKPOINT_FILE, LOG_FILE, CONFIG_FILE, CORPUS_DIR, VOCAB_FILE, SOFTMAX_FILE}
# Written by a run of ours, but also what a user's weights directory holds: they count
# as ours only beside our config.cfg.
EXPORT_FILES = {OPTIONS_FILE, WEIGHTS_FILE}


def check_output_dir(output: Path, config: Config) -> None:
    """Create `output`, or make sure it is empty or holds a run of ours with the same
    [model] settings; delete the half-written files a killed run left."""
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(f"Output {output} exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    remove_temporaries(output)
    if (output / CHECKPOINT_FILE).exists():
        saved = output / CONFIG_FILE
        if saved.exists():
            before = Config().from_disk(saved, interpolate=False)["model"]
            if dict(before) != dict(config["model"]):
                raise ValueError(
                    f"{output} holds a run with different [model] settings ({saved}); "
                    "use a new output directory"
                )
        return
    ours = OUR_FILES | (EXPORT_FILES if (output / CONFIG_FILE).exists() else set())
    foreign = [p.name for p in output.iterdir() if p.name not in ours]
    if foreign:
        raise FileExistsError(
            f"Output directory {output} already holds other files "
            f"({', '.join(sorted(foreign)[:5])}); "
            "give an empty or new directory (nothing in it is overwritten)"
        )


def remove_temporaries(output: Path) -> None:
    """Delete the half-written files a killed run of ours left (never anything else)."""
    names = OUR_FILES | EXPORT_FILES | {TYPES_FILE, TOKENS_FILE, SOURCE_FILE}
    for directory in [output, *output.glob(f"{CORPUS_DIR}/*")]:
        remove_stale_temporaries(directory, names)


def save_config(output: Path, config: Config) -> None:
    """Keep the resolved config of a new run, which a resumed run is checked against."""
    with atomic_path(output / CONFIG_FILE) as tmp:
        config.to_disk(tmp)


def append_log(output: Path, record: Dict[str, Any]) -> None:
    """Add a record to the progress log (a regular file: a FIFO or directory in its
    place is refused rather than waited on)."""
    check_replaceable(output / LOG_FILE)
    with (output / LOG_FILE).open("a", encoding="utf8") as f:
        f.write(json.dumps(record) + "\n")


def truncate_log(output: Path, step: int) -> None:
    """Drop the log records after the checkpoint a run resumes from."""
    path = output / LOG_FILE
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError):
            continue  # a line cut off by a kill
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in kept))
