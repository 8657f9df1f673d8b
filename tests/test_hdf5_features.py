"""HDF5 files whose reading would read other files are refused by every reader:
datasets with external storage, virtual datasets, external and soft links. The tests
point them at files they write themselves in tmp_path."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from spacy_elmo import load_bilm
from spacy_elmo.errors import ElmoFormatError
from spacy_elmo.io.hdf5_checks import check_hdf5_features
from spacy_elmo.io.weights import bilm_from_bytes, load_weights_files, save_weights_files

KINDS = {
    "external-storage": "char_embed keeps its data in another file",
    "virtual": "char_embed is a virtual dataset",
    "external-link": "char_embed is an HDF5 external link",
    "soft-link": "char_embed is an HDF5 soft link",
}


def make_hostile(f: h5py.File, name: str, kind: str, outside: Path) -> None:
    """Replace dataset `name` of `f` by the same values read through `kind`, from
    files in the folder `outside`."""
    data = f[name][()]
    del f[name]
    if kind == "external-storage":
        raw = outside / "outside.bin"
        raw.write_bytes(data.astype("<f4").tobytes())
        f.create_dataset(name, shape=data.shape, dtype="<f4", external=[(str(raw), 0, data.nbytes)])
        return
    source = outside / "outside.h5"
    with h5py.File(source, "w") as other:
        other["data"] = data
    if kind == "virtual":
        layout = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
        layout[...] = h5py.VirtualSource(str(source), "data", shape=data.shape)
        f.create_virtual_dataset(name, layout)
    elif kind == "external-link":
        f[name] = h5py.ExternalLink(str(source), "data")
    else:
        f["elsewhere"] = data
        f[name] = h5py.SoftLink("/elsewhere")


@pytest.fixture(params=sorted(KINDS))
def hostile(request, tmp_path, tiny_bilm):
    """(kind, weights folder) whose char_embed is read through `kind`."""
    folder = tmp_path / "bilm"
    _, weights = save_weights_files(tiny_bilm, folder)
    with h5py.File(weights, "a") as f:
        make_hostile(f, "char_embed", request.param, tmp_path)
    return request.param, folder


def test_the_hostile_file_holds_the_same_values(hostile, tiny_bilm):
    # Guards the fixture: h5py reads each file to the original values.
    _, folder = hostile
    with h5py.File(folder / "weights.hdf5", "r") as f:
        np.testing.assert_array_equal(
            f["char_embed"][()], tiny_bilm.char_encoder.char_embed.detach().numpy()[1:]
        )


def test_weights_files_are_refused(hostile):
    kind, folder = hostile
    weights = folder / "weights.hdf5"
    for load in (
        lambda: load_weights_files(folder / "options.json", weights),
        lambda: load_bilm(folder),
    ):
        with pytest.raises(ElmoFormatError, match=KINDS[kind]) as error:
            load()
        assert str(weights) in str(error.value) and "\n" not in str(error.value)


def test_weights_bytes_are_refused(hostile):
    kind, folder = hostile
    options = json.loads((folder / "options.json").read_text())
    data = (folder / "weights.hdf5").read_bytes()
    with pytest.raises(ElmoFormatError, match=f"pipeline bytes: .*{KINDS[kind]}"):
        bilm_from_bytes(options, data, "pipeline bytes")


def test_any_file_is_checked_in_groups_too(tmp_path):
    path = tmp_path / "embeddings.hdf5"
    with h5py.File(path, "w") as f:
        f["group/vectors"] = np.ones((3, 4), dtype=np.float32)
    with h5py.File(path, "r") as f:
        check_hdf5_features(f, str(path))  # a plain file passes
    for kind, message in KINDS.items():
        with h5py.File(path, "a") as f:
            if "group/vectors" not in f:
                f["group/vectors"] = np.ones((3, 4), dtype=np.float32)
            make_hostile(f, "group/vectors", kind, tmp_path)
        with h5py.File(path, "r") as f, pytest.raises(ValueError) as error:
            check_hdf5_features(f, str(path))
        expected = message.replace("char_embed", "group/vectors")
        assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)
        with h5py.File(path, "a") as f:
            del f["group/vectors"]
            if "elsewhere" in f:
                del f["elsewhere"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pretraining_softmax_file_is_refused(tmp_path, kind):
    """A language model directory's softmax.hdf5 is read with the same check."""
    from spacy_elmo.bilm.softmax import make_softmax
    from spacy_elmo.pretrain.model_files import load_softmax, save_softmax

    path = tmp_path / "softmax.hdf5"
    save_softmax(path, make_softmax("full", 10, 8))
    with h5py.File(path, "a") as f:
        name = next(iter(f))
        make_hostile(f, name, kind, tmp_path)
    with pytest.raises(ValueError, match=str(path)):
        load_softmax(path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_merge_refuses_a_hostile_shard(tmp_path, tiny_bilm, kind):
    """`merge` copies the shards' datasets: a shard that reads another file is refused
    before anything is written."""
    from typer.testing import CliRunner

    from spacy_elmo.cli import app

    save_weights_files(tiny_bilm, tmp_path / "bilm")
    (tmp_path / "in.txt").write_text("The bank .\nA river bank .\n", encoding="utf8")
    runner = CliRunner()
    for k in (0, 1):
        args = ["embed", str(tmp_path / "in.txt"), str(tmp_path / f"s{k}.hdf5")]
        args += ["-w", str(tmp_path / "bilm"), "--shard", f"{k}/2"]
        assert runner.invoke(app, args).exit_code == 0
    with h5py.File(tmp_path / "s1.hdf5", "a") as f:
        make_hostile(f, "1", kind, tmp_path)
    shards = [str(tmp_path / "s0.hdf5"), str(tmp_path / "s1.hdf5")]
    result = runner.invoke(app, ["merge", str(tmp_path / "merged.hdf5"), *shards])
    assert result.exit_code == 1
    assert "s1.hdf5" in result.stderr and "1 " in result.stderr
    assert not (tmp_path / "merged.hdf5").exists()
