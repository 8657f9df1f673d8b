"""The seam for biLM formats (io/formats.py): each kind is detected, read, written,
serialized and checksummed there, and the checksum covers every file of a model."""

import shutil

import pytest

from spacy_elmo.errors import ElmoFormatError
from spacy_elmo.io.formats import (
    BILM_TF,
    MANYLANGS,
    bilm_from_message,
    bilm_to_message,
    checksum,
    files_in_folder,
    present_files,
    read_bilm,
    write_bilm,
)
from spacy_elmo.io.references import resolve_weights

from .test_manylangs import write_reference_model
from .util import same_weights


def test_bilm_tf_folder(tmp_path, tiny_bilm):
    files = write_bilm(tiny_bilm, tmp_path / "m")
    assert files.kind == BILM_TF
    assert present_files(files) == ["options.json", "weights.hdf5"]
    assert files_in_folder(tmp_path / "m") == files
    assert same_weights(read_bilm(files), tiny_bilm)


def test_manylangs_folder_lists_every_file(tmp_path, monkeypatch):
    model = write_reference_model(tmp_path / "zh", monkeypatch)
    files = resolve_weights(model)
    assert (files.kind, files.folder) == (MANYLANGS, model)
    assert {"config.json", "char.dic", "word.dic", "token_embedder.pkl", "encoder.pkl"} <= set(
        present_files(files)
    )


def test_checksum_covers_every_file_of_a_model(tmp_path, monkeypatch):
    """Equal files give equal checksums wherever they lie; changing any file of the
    model (a dictionary, the token embedder, the options) changes it."""
    model = write_reference_model(tmp_path / "zh", monkeypatch)
    digest = checksum(resolve_weights(model))
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    assert checksum(resolve_weights(copy)) == digest
    for name in ("word.dic", "char.dic", "token_embedder.pkl", "config.json"):
        changed = tmp_path / f"changed-{name}"
        shutil.copytree(model, changed)
        with (changed / name).open("ab") as f:
            f.write(b"\n")
        assert checksum(resolve_weights(changed)) != digest, name


def test_checksum_of_bilm_tf_covers_the_options(tmp_path, tiny_bilm):
    files = write_bilm(tiny_bilm, tmp_path / "m")
    digest = checksum(files)
    files.options.write_text(files.options.read_text() + " ")
    assert checksum(files) != digest


def test_write_over_another_kind_leaves_one_model(tmp_path, monkeypatch, tiny_bilm):
    """A folder never holds the files of two biLMs: overwriting removes the other
    kind's files, and without overwrite the other kind is an error."""
    folder = write_reference_model(tmp_path / "zh", monkeypatch)
    manylangs = read_bilm(resolve_weights(folder))
    with pytest.raises(FileExistsError, match="another biLM"):
        write_bilm(tiny_bilm, folder)
    write_bilm(tiny_bilm, folder, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["options.json", "weights.hdf5"]
    assert files_in_folder(folder).kind == BILM_TF
    write_bilm(manylangs, folder, overwrite=True)
    assert not (folder / "options.json").exists()
    assert files_in_folder(folder).kind == MANYLANGS


def test_message_round_trip(tmp_path, monkeypatch, tiny_bilm):
    manylangs = read_bilm(resolve_weights(write_reference_model(tmp_path / "zh", monkeypatch)))
    for bilm in (tiny_bilm, manylangs):
        again = bilm_from_message(bilm_to_message(bilm), "test")
        assert type(again) is type(bilm)
        assert same_weights(again, bilm)
    with pytest.raises(ElmoFormatError, match="not a serialized biLM"):
        bilm_from_message(b"\x80", "test")


def test_json_files_with_a_byte_order_mark_read(tmp_path, monkeypatch, tiny_bilm):
    """options.json and an ELMoForManyLangs config.json saved with a UTF-8 BOM."""
    files = write_bilm(tiny_bilm, tmp_path / "m")
    files.options.write_bytes(b"\xef\xbb\xbf" + files.options.read_bytes())
    assert same_weights(read_bilm(files), tiny_bilm)
    model = write_reference_model(tmp_path / "zh", monkeypatch)
    expected = read_bilm(resolve_weights(model))
    for name in ("config.json", "arch.json"):
        (model / name).write_bytes(b"\xef\xbb\xbf" + (model / name).read_bytes())
    assert same_weights(read_bilm(resolve_weights(model)), expected)
