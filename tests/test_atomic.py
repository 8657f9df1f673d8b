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
