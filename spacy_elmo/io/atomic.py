"""Atomic file writes: a file is replaced whole or not at all."""

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Collection, List


class atomic_path:
    """Context manager giving a temporary path beside `path` (a hidden `.NAME.*.tmp`)
    that replaces `path` when the block succeeds and is deleted when it fails, so
    `path` is never half-written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self.tmp = Path(name)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: Any, *args: Any) -> None:
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        try:
            # mkstemp makes its file 0600: give it the mode a plain write would.
            os.chmod(self.tmp, _ordinary_mode(self.path))
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise


def _ordinary_mode(path: Path) -> int:
    """The mode `open(path, "w")` leaves: the file's own if it exists, else 0666
    less the process's umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # the only portable way to read the umask is to set it
        os.umask(umask)
        return 0o666 & ~umask


# The name atomic_path gives its temporary: ".NAME.XXXXXXXX.tmp".
TEMPORARY_NAME = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")


def remove_stale_temporaries(directory: Path, names: Collection[str]) -> List[Path]:
    """Delete the temporaries `atomic_path` left in `directory` for the given file
    names when its process was killed mid-write (no other file is touched).

    RETURNS (List[Path]): The files deleted.
    """
    removed = []
    for path in directory.glob(".*.tmp"):
        match = TEMPORARY_NAME.match(path.name)
        if match and match.group("name") in names and path.is_file():
            path.unlink()
            removed.append(path)
    return removed
