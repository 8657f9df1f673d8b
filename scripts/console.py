"""How a step reports: progress lines, warnings, and a DataError as one `ERROR:` line
with exit code 1."""

import sys
from typing import Callable


class DataError(RuntimeError):
    """A data file or package is missing or not what we expected."""


def run_script(main: Callable[[], int]) -> None:
    """Run a script's `main`, reporting a DataError as one `ERROR:` line, exit code 1."""
    try:
        sys.exit(main())
    except DataError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(1)


def log(msg: str) -> None:
    print(msg, flush=True)


def warn(msg: str) -> None:
    print(f"WARNING: {msg}", file=sys.stderr, flush=True)
