import pytest
import torch

from spacy_elmo import ElmoFormatError, load_bilm, resolve_weights, save_weights_files
from spacy_elmo.io.hub import canonical_name, urls

CONFIG = """
[nlp]
lang = "en"
pipeline = ["{name}"]

[components]

[components.{name}]
factory = "{factory}"
"""


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture
def model_dir(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "model")
    return tmp_path / "model"


def test_pair_dict_and_directory(model_dir, tiny_bilm):
    pair = (model_dir / "options.json", model_dir / "weights.hdf5")
    assert _pair(resolve_weights(pair)) == pair
    assert _pair(resolve_weights(list(map(str, pair)))) == pair
    assert _pair(resolve_weights({"options": pair[0], "weights": pair[1]})) == pair
    assert _pair(resolve_weights(model_dir)) == pair
    assert _pair(resolve_weights(f"{pair[0]},{pair[1]}")) == pair
    assert _pair(resolve_weights(str(model_dir))) == pair
    assert same_weights(load_bilm(model_dir), tiny_bilm)
    assert load_bilm(tiny_bilm) is tiny_bilm


def test_saved_pipeline_layout(tmp_path, tiny_bilm):
    pipeline = tmp_path / "pipeline"
    save_weights_files(tiny_bilm, pipeline / "elmo_vectors")
    (pipeline / "config.cfg").write_text(CONFIG.format(name="elmo_vectors", factory="elmo"))
    expected = (
        pipeline / "elmo_vectors" / "options.json",
        pipeline / "elmo_vectors" / "weights.hdf5",
    )
    assert _pair(resolve_weights(pipeline)) == expected
    assert _pair(resolve_weights(pipeline / "elmo_vectors")) == expected
    assert same_weights(load_bilm(pipeline), tiny_bilm)


def test_saved_pipeline_without_elmo(tmp_path):
    (tmp_path / "config.cfg").write_text(CONFIG.format(name="ner", factory="ner"))
    with pytest.raises(ElmoFormatError, match="expected one 'elmo' component, found 0"):
        resolve_weights(tmp_path)
    with pytest.raises(ElmoFormatError, match="no 'elmo' component named 'x'"):
        resolve_weights(tmp_path / "x")


def test_published_name_in_cache(tmp_path, monkeypatch, tiny_bilm):
    monkeypatch.setenv("SPACY_ELMO_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ElmoFormatError, match="'small' is not in the cache"):
        resolve_weights("small")
    save_weights_files(tiny_bilm, tmp_path / "cache" / "small")
    assert resolve_weights("elmo_2x1024_128_2048cnn_1xhighway").weights == (
        tmp_path / "cache" / "small" / "weights.hdf5"
    )
    assert same_weights(load_bilm("Small"), tiny_bilm)


def test_names_and_urls():
    assert canonical_name("original-5.5b") == "original-5.5B"
    assert canonical_name("2x2048_256_2048cnn_1xhighway") == "medium"
    assert canonical_name("large") is None
    assert urls("small")["weights.hdf5"].endswith(
        "2x1024_128_2048cnn_1xhighway/elmo_2x1024_128_2048cnn_1xhighway_weights.hdf5"
    )


@pytest.mark.parametrize(
    "ref,message",
    [
        ("no/such/path", "ELMo weights not found: no/such/path is not"),
        (("a.json",), "weights pair is"),
        ({"options": "a"}, "needs exactly the keys"),
        (42, "Cannot use int as ELMo weights"),
        ("", "empty string"),
        ("  ", "empty string"),
    ],
)
def test_bad_references(ref, message):
    with pytest.raises(ElmoFormatError, match=message):
        resolve_weights(ref)


def test_empty_directory(tmp_path):
    with pytest.raises(ElmoFormatError, match="holds no biLM"):
        resolve_weights(tmp_path)


def test_directory_missing_weights(tmp_path, model_dir):
    (model_dir / "weights.hdf5").unlink()
    with pytest.raises(ElmoFormatError, match="Weights file not found"):
        load_bilm(model_dir)


def _pair(files):
    """The (options, weights) files of a resolved reference, checked to be bilm-tf's."""
    assert files.kind == "bilm-tf"
    return files.options, files.weights
