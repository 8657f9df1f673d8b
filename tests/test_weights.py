import json
import shutil

import h5py
import numpy as np
import pytest
import torch

from spacy_elmo import ElmoBiLM, ElmoFormatError, load_weights_files, save_weights_files
from spacy_elmo.io.weights import bilm_from_bytes, bilm_to_bytes

from .util import tiny_options


def datasets(path):
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda n, o: found.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None
        )
    return found


def assert_bit_identical(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].shape == b[name].shape, name
        assert a[name].tobytes() == b[name].tobytes(), name


def test_fixture_round_trips_bit_exactly(fixtures_dir, tmp_path):
    model = load_weights_files(fixtures_dir / "options.json", fixtures_dir / "lm_weights.hdf5")
    options_path, weights_path = save_weights_files(model, tmp_path / "out")
    assert_bit_identical(datasets(fixtures_dir / "lm_weights.hdf5"), datasets(weights_path))
    original_options = json.loads((fixtures_dir / "options.json").read_text())
    assert json.loads(options_path.read_text()) == original_options
    # Our own files reproduce byte for byte.
    again = load_weights_files(options_path, weights_path)
    save_weights_files(again, tmp_path / "again")
    for name in ("options.json", "weights.hdf5"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_forget_bias_is_stored_without_the_runtime_one(fixtures_dir):
    model = load_weights_files(fixtures_dir / "options.json", fixtures_dir / "lm_weights.hdf5")
    with h5py.File(fixtures_dir / "lm_weights.hdf5", "r") as f:
        stored = f["RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/B"][()]
    dim = 64
    # Ours: i, f, o, g; the file: i, g, f, o.
    np.testing.assert_array_equal(
        model.lstm.biases[0][0, dim : 2 * dim].detach().numpy(), stored[2 * dim : 3 * dim]
    )


def test_random_model_round_trips_and_keeps_outputs(tmp_path):
    torch.manual_seed(1)
    model = ElmoBiLM(tiny_options(n_layers=3, activation="tanh")).eval()
    save_weights_files(model, tmp_path)
    loaded = load_weights_files(tmp_path / "options.json", tmp_path / "weights.hdf5")
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    with torch.inference_mode():
        sentences = [["a", "b"], ["c"]]
        assert torch.equal(
            model.embed_tokens(sentences).layers, loaded.embed_tokens(sentences).layers
        )


def test_char_table_with_padding_row_round_trips(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "a")
    path = tmp_path / "a" / "weights.hdf5"
    with h5py.File(path, "a") as f:
        table = f["char_embed"][()]
        del f["char_embed"]
        f["char_embed"] = np.concatenate([np.zeros((1, table.shape[1]), np.float32), table])
    loaded = load_weights_files(tmp_path / "a" / "options.json", path)
    assert torch.equal(loaded.char_encoder.char_embed, tiny_bilm.char_encoder.char_embed)
    save_weights_files(loaded, tmp_path / "b")
    assert_bit_identical(datasets(path), datasets(tmp_path / "b" / "weights.hdf5"))


def test_save_refuses_to_overwrite(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path)
    before = (tmp_path / "weights.hdf5").read_bytes()
    torch.manual_seed(5)
    other = ElmoBiLM(tiny_options())
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_weights_files(other, tmp_path)
    assert (tmp_path / "weights.hdf5").read_bytes() == before
    save_weights_files(other, tmp_path, overwrite=True)
    assert (tmp_path / "weights.hdf5").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["options.json", "weights.hdf5"]


@pytest.fixture
def saved(tmp_path, tiny_bilm):
    options_path, weights_path = save_weights_files(tiny_bilm, tmp_path / "model")
    return options_path, weights_path


def load(paths):
    return load_weights_files(*paths)


def test_error_missing_files(saved, tmp_path):
    with pytest.raises(ElmoFormatError, match="Options file not found: .*nope.json"):
        load_weights_files(tmp_path / "nope.json", saved[1])
    with pytest.raises(ElmoFormatError, match="Weights file not found: .*nope.hdf5"):
        load_weights_files(saved[0], tmp_path / "nope.hdf5")


def test_error_not_hdf5(saved):
    saved[1].write_text("this is not hdf5")
    with pytest.raises(ElmoFormatError, match=r"weights.hdf5 is not an HDF5 file"):
        load(saved)


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.999])
def test_error_truncated_file(saved, keep):
    data = saved[1].read_bytes()
    saved[1].write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ElmoFormatError, match=r"weights.hdf5.*(truncated|corrupt)"):
        load(saved)


@pytest.mark.parametrize(
    "name,replacement,message",
    [
        (
            "CNN_high_0/W_carry",
            None,
            r"missing dataset CNN_high_0/W_carry \(expected shape \(20, 20\)\)",
        ),
        (
            "CNN_proj/W_proj",
            (20, 9),
            r"dataset CNN_proj/W_proj has shape \(20, 9\), expected \(20, 8\)",
        ),
        ("char_embed", (300, 4), r"dataset char_embed has shape \(300, 4\), expected \(261, 4\)"),
    ],
)
def test_error_dataset_missing_or_misshapen(saved, name, replacement, message):
    with h5py.File(saved[1], "a") as f:
        del f[name]
        if replacement is not None:
            f[name] = np.zeros(replacement, np.float32)
    with pytest.raises(ElmoFormatError, match="weights.hdf5: " + message):
        load(saved)


def test_error_unknown_dataset_is_not_dropped(saved):
    with h5py.File(saved[1], "a") as f:
        f["softmax/W"] = np.zeros((3, 3), np.float32)
    with pytest.raises(ElmoFormatError, match="unexpected dataset.*softmax/W"):
        load(saved)


def test_error_options_for_another_model(saved, tmp_path):
    other = tmp_path / "other.json"
    options = json.loads(saved[0].read_text())
    options["lstm"]["n_layers"] = 3
    other.write_text(json.dumps(options))
    with pytest.raises(ElmoFormatError, match="missing dataset RNN_0/RNN/MultiRNNCell/Cell2"):
        load_weights_files(other, saved[1])


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda o: o["lstm"].pop("dim"), "missing key lstm.dim"),
        (lambda o: o.pop("char_cnn"), "missing key char_cnn"),
        (lambda o: o["char_cnn"]["embedding"].pop("dim"), "missing key char_cnn.embedding.dim"),
        (lambda o: o["char_cnn"].update(activation="gelu"), "unknown char_cnn.activation 'gelu'"),
        (lambda o: o["char_cnn"].update(filters=[[1, "x"]]), r"char_cnn.filters\[0\]"),
        (lambda o: o["lstm"].update(n_layers="2"), "lstm.n_layers must be int, found str"),
        (
            lambda o: o["char_cnn"].update(n_characters=300),
            "char_cnn.n_characters must be 261 or 262",
        ),
        (lambda o: o["lstm"].update(cell_clip=-1), "lstm.cell_clip must be a finite non-neg"),
        (lambda o: o["lstm"].update(proj_clip=float("nan")), "lstm.proj_clip must be a finite"),
        (
            lambda o: o["lstm"].update(use_skip_connections="false"),
            "lstm.use_skip_connections must be bool, found str 'false'",
        ),
        (lambda o: o["char_cnn"].update(filters=[[True, 4]]), r"char_cnn.filters\[0\]"),
        (lambda o: o["char_cnn"].update(n_highway=-1), "char_cnn.n_highway must be 0 or more"),
    ],
)
def test_error_bad_options(saved, edit, message):
    options = json.loads(saved[0].read_text())
    edit(options)
    saved[0].write_text(json.dumps(options))
    with pytest.raises(ElmoFormatError, match=f"options.json: {message}"):
        load(saved)


def test_error_options_not_json(saved):
    saved[0].write_text("{not json")
    with pytest.raises(ElmoFormatError, match="options.json is not valid JSON"):
        load(saved)


def test_fixture_copy_with_extra_option_keys_round_trips(fixtures_dir, tmp_path):
    shutil.copy(fixtures_dir / "lm_weights.hdf5", tmp_path / "weights.hdf5")
    options = json.loads((fixtures_dir / "options.json").read_text())
    options["n_tokens_vocab"] = 458
    options["bidirectional"] = True
    (tmp_path / "options.json").write_text(json.dumps(options))
    model = load_weights_files(tmp_path / "options.json", tmp_path / "weights.hdf5")
    save_weights_files(model, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "options.json").read_text()) == options


def test_bytes_round_trip(fixtures_dir, tmp_path):
    model = load_weights_files(fixtures_dir / "options.json", fixtures_dir / "lm_weights.hdf5")
    data = bilm_to_bytes(model)
    again = bilm_from_bytes(model.options.raw, data, "in memory")
    assert bilm_to_bytes(again) == data
    save_weights_files(again, tmp_path)
    assert_bit_identical(
        datasets(fixtures_dir / "lm_weights.hdf5"), datasets(tmp_path / "weights.hdf5")
    )
    with pytest.raises(ElmoFormatError, match="in memory: the weights are not HDF5 data"):
        bilm_from_bytes(model.options.raw, b"nonsense", "in memory")
    with pytest.raises(ElmoFormatError, match="in memory: cannot read the HDF5 weights"):
        bilm_from_bytes(model.options.raw, data[: len(data) // 2], "in memory")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_error_non_finite_weights(saved, value):
    """A NaN or inf in any dataset is refused at load, naming file and dataset."""
    with h5py.File(saved[1], "a") as f:
        data = f["CNN_proj/W_proj"][()]
        data[3, 1] = value
        f["CNN_proj/W_proj"][...] = data
    with pytest.raises(ElmoFormatError, match=r"weights.hdf5: dataset CNN_proj/W_proj holds 1 "):
        load(saved)


# The options files AllenNLP published, as they are written there (one JSON object;
# the clips are JSON integers).
PUBLISHED_TEMPLATE = (
    '{"lstm": {"use_skip_connections": true, "projection_dim": PROJ, "cell_clip": 3, '
    '"proj_clip": 3, "dim": DIM, "n_layers": 2}, "char_cnn": {"activation": "relu", '
    '"filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]], '
    '"n_highway": HIGHWAY, "embedding": {"dim": 16}, "n_characters": 262, '
    '"max_characters_per_token": 50}}'
)
PUBLISHED_JSON = {
    name: PUBLISHED_TEMPLATE.replace("PROJ", proj).replace("DIM", dim).replace("HIGHWAY", hw)
    for name, (proj, dim, hw) in {
        "small": ("128", "1024", "1"),
        "medium": ("256", "2048", "1"),
        "original": ("512", "4096", "2"),
        "original-5.5B": ("512", "4096", "2"),
    }.items()
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_JSON))
def test_every_published_options_file_loads(name):
    from spacy_elmo import ElmoOptions

    parsed = ElmoOptions.from_dict(json.loads(PUBLISHED_JSON[name]), name)
    assert parsed.use_skip_connections is True and parsed.cell_clip == 3.0
    assert parsed.n_characters == 262 and parsed.max_characters_per_token == 50
