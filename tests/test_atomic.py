"""Atomic writes give files the mode an ordinary write would."""

import os
import stat

import pytest

from spacy_elmo.io.atomic import atomic_path


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_gets_the_umask_mode(tmp_path, umask, mask, expected):
    os.umask(mask)
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("data")
    assert target.read_text() == "data"
    assert _mode(target) == expected
    assert list(tmp_path.iterdir()) == [target]


def test_existing_file_keeps_its_mode(tmp_path, umask):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o640


def test_failed_write_leaves_the_old_file(tmp_path, umask):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_failed_rename_leaves_no_temporary(tmp_path, umask, monkeypatch):
    """When the finished file cannot be put in place, the temporary goes too."""
    from spacy_elmo.io import atomic

    def refuse(source, target):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    target = tmp_path / "out.txt"
    with pytest.raises(PermissionError):
        with atomic_path(target) as tmp:
            tmp.write_text("data")
    assert list(tmp_path.iterdir()) == []


def non_regular(tmp_path, kind):
    """A FIFO, a directory, or a symlink to either, where a file would be written."""
    target = tmp_path / "out.txt"
    real = tmp_path / "real" if kind.startswith("link") else target
    if kind.endswith("fifo"):
        os.mkfifo(real)
    else:
        real.mkdir()
    if kind.startswith("link"):
        target.symlink_to(real)
    return target, real


@pytest.mark.parametrize("kind", ["fifo", "dir", "link-fifo", "link-dir"])
def test_only_a_regular_file_is_replaced(tmp_path, kind):
    """A FIFO or a directory (or a symlink to one) is never replaced: the write is
    refused before a temporary is made, and the path stays what it was."""
    target, real = non_regular(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ValueError, match="not a regular file: it is never replaced"):
        with atomic_path(target) as tmp:
            tmp.write_text("data")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert target.is_symlink() == kind.startswith("link")
    assert stat.S_ISFIFO(os.stat(real).st_mode) if kind.endswith("fifo") else real.is_dir()


def test_a_fifo_made_during_the_write_is_not_replaced(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(ValueError, match="named pipe"):
        with atomic_path(target) as tmp:
            tmp.write_text("data")
            os.mkfifo(target)
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_folder_replaces_a_folder_whole(tmp_path, umask):
    from spacy_elmo.io.atomic import atomic_folder

    target = tmp_path / "pipeline"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert _mode(target) == 0o755
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline"]


def test_stale_temporary_folders_are_removed(tmp_path):
    from spacy_elmo.io.atomic import remove_stale_temporaries

    stale = tmp_path / ".pipeline.k1ll3d.tmp"
    (stale / "elmo").mkdir(parents=True)
    other = tmp_path / ".other.k1ll3d.tmp"
    other.mkdir()
    assert remove_stale_temporaries(tmp_path, {"pipeline"}) == [stale]
    assert not stale.exists() and other.exists()
