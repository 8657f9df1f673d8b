"""Atomic file writes: a file (or a folder) is replaced whole or not at all, and only
a regular file (or a folder) is ever replaced."""

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Collection, List


def check_replaceable(path: Path) -> None:
    """Refuse to write over anything but a regular file: a FIFO, a device, a socket or
    a directory (or a symlink to one) is never replaced, whatever --force says.

    path (Path): The file about to be written.
    """
    try:
        mode = path.stat().st_mode  # follows symlinks: the link's target counts
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        link = "a symlink to " if path.is_symlink() else ""
        raise ValueError(
            f"{path} is {link}{_kind(mode)}, not a regular file: it is never replaced; "
            "name a file to write"
        )


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


class atomic_path:
    """Context manager giving a temporary path beside `path` (a hidden `.NAME.*.tmp`)
    that replaces `path` when the block succeeds and is deleted when it fails, so
    `path` is never half-written. `path` must be a regular file or not exist
    (`check_replaceable`)."""

    def __init__(self, path: Path) -> None:
        check_replaceable(path)
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
            # Again: a FIFO may have been made there while the file was written.
            check_replaceable(self.path)
            # mkstemp makes its file 0600: give it the mode a plain write would.
            os.chmod(self.tmp, _ordinary_mode(self.path))
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise


class atomic_folder:
    """Context manager giving a temporary folder beside `path` (a hidden
    `.NAME.*.tmp`) that replaces the folder `path` when the block succeeds, so that
    `path` then holds exactly what was written, and is deleted when it fails, leaving
    `path` as it was. The caller decides whether the old folder's contents may go."""

    def __init__(self, path: Path) -> None:
        if path.exists() and (path.is_symlink() or not path.is_dir()):
            kind = "a symlink" if path.is_symlink() else _kind(path.stat().st_mode)
            raise ValueError(f"{path} is {kind}, not a folder: name a folder to write")
        self.path = path
        self.tmp = _temporary_folder(path)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: Any, *args: Any) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        old = None
        try:
            os.chmod(self.tmp, _ordinary_mode(self.path, folder=True))
            if self.path.exists():
                # Moved aside (under a temporary's name, so a stopped run's is removed
                # by the next), then the new folder takes its name.
                old = _temporary_folder(self.path)
                os.replace(self.path, old)
            os.replace(self.tmp, self.path)
        except BaseException:
            if old is not None and not self.path.exists():
                os.replace(old, self.path)
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        finally:
            if old is not None and old.exists():
                shutil.rmtree(old, ignore_errors=True)


def _temporary_folder(path: Path) -> Path:
    """A new empty folder beside `path`, named as a temporary of it."""
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))


def _ordinary_mode(path: Path, folder: bool = False) -> int:
    """The mode `open(path, "w")` (or `mkdir`) leaves: the existing file's or folder's
    own, else 0666 (0777 for a folder) less the process's umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # the only portable way to read the umask is to set it
        os.umask(umask)
        return (0o777 if folder else 0o666) & ~umask


# The name atomic_path and atomic_folder give their temporaries: ".NAME.XXXXXXXX.tmp".
TEMPORARY_NAME = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")


def remove_stale_temporaries(directory: Path, names: Collection[str]) -> List[Path]:
    """Delete the temporaries `atomic_path` and `atomic_folder` left in `directory`
    for the given names when their process was killed mid-write (no other file is
    touched).

    RETURNS (List[Path]): The files and folders deleted.
    """
    removed = []
    for path in directory.glob(".*.tmp"):
        match = TEMPORARY_NAME.match(path.name)
        if not match or match.group("name") not in names or path.is_symlink():
            continue
        if path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            continue
        removed.append(path)
    return removed
