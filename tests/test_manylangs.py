"""ELMoForManyLangs model directories: read exactly as their reference package
(`elmoformanylangs`) computes, through the one weights resolver, and written back."""

import importlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import spacy
import torch

from spacy_elmo import load_bilm
from spacy_elmo.bilm.dictionaries import IDEOGRAPHIC_SPACE, parse_dictionary
from spacy_elmo.bilm.manylangs import ManyLangsBiLM
from spacy_elmo.errors import ElmoFormatError
from spacy_elmo.io.manylangs_files import read_model_dir, write_model_dir

from .util import same_weights

ARCHITECTURE = {
    "encoder": {
        "name": "elmo",
        "projection_dim": 8,
        "cell_clip": 3,
        "proj_clip": 3,
        "dim": 16,
        "n_layers": 2,
    },
    "token_embedder": {
        "name": "cnn",
        "activation": "relu",
        "filters": [[1, 4], [2, 4], [3, 8]],
        "n_highway": 2,
        "word_dim": 6,
        "char_dim": 5,
        "max_characters_per_token": 10,
    },
    "classifier": {"name": "sampled_softmax", "n_samples": 10},
    "dropout": 0.1,
}
SPECIALS = ["<oov>", "<pad>", "<bow>", "<eow>", "<bos>", "<eos>"]
CHARS = list("abcdefghijklmnopqrstuvwxyz.,我们喜欢中文银行") + [IDEOGRAPHIC_SPACE]
WORDS = ["the", "bank", "river", "我们", "喜欢", "银行", ".", ","]
SENTENCES = [
    ["the", "bank", "."],
    ["我们", "喜欢", "银行", "。"],  # "。" is missing from char.dic and word.dic
    ["a", "river", "bank", "is", "not", "the", "bank", "we", "know", "."],
    ["supercalifragilistic", "x"],  # longer than max_characters_per_token - 2
    ["mixed中文words", "Ünïcödé", IDEOGRAPHIC_SPACE],
    ["solo"],
]


def reference_package(monkeypatch):
    """Import `elmoformanylangs` (0.0.4, 2020). Its only shim: it decorates methods
    with `overrides.overrides`, whose releases since 4.0 reject the methods'
    annotations at import time, so an identity decorator stands in for it."""
    monkeypatch.setitem(sys.modules, "overrides", types.SimpleNamespace(overrides=lambda f: f))
    for name in [m for m in sys.modules if m.startswith("elmoformanylangs")]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module("elmoformanylangs")


def write_reference_model(directory: Path, monkeypatch, seed: int = 0) -> Path:
    """A model directory in their format, with random weights made by their own
    classes (every parameter perturbed, so no bias is left at its initial value)."""
    reference_package(monkeypatch)
    from elmoformanylangs.frontend import Model
    from elmoformanylangs.modules.embedding_layer import EmbeddingLayer

    directory.mkdir(parents=True, exist_ok=True)
    chars = {c: i for i, c in enumerate(SPECIALS + CHARS)}
    words = {w: i for i, w in enumerate(SPECIALS[:2] + ["<bos>", "<eos>"] + WORDS)}
    lines = [str(i) if c == IDEOGRAPHIC_SPACE else f"{c}\t{i}" for c, i in chars.items()]
    (directory / "char.dic").write_text("\n".join(lines) + "\n", encoding="utf8")
    (directory / "word.dic").write_text(
        "".join(f"{w}\t{i}\n" for w, i in words.items()), encoding="utf8"
    )
    (directory / "arch.json").write_text(json.dumps(ARCHITECTURE))
    (directory / "config.json").write_text(json.dumps({"config_path": "arch.json"}))
    torch.manual_seed(seed)
    token = ARCHITECTURE["token_embedder"]
    model = Model(
        ARCHITECTURE,
        EmbeddingLayer(token["word_dim"], words, fix_emb=False),
        EmbeddingLayer(token["char_dim"], chars, fix_emb=False),
    )
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    torch.save(model.token_embedder.state_dict(), directory / "token_embedder.pkl")
    torch.save(model.encoder.state_dict(), directory / "encoder.pkl")
    return directory


def reference_layers(directory: Path, sentences, output_layer: int):
    """What their Embedder returns, from a fresh Embedder (their encoder is stateful)."""
    from elmoformanylangs import Embedder

    return Embedder(str(directory), batch_size=64).sents2elmo(sentences, output_layer=output_layer)


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    return write_reference_model(tmp_path / "zh-model", monkeypatch)


def test_layers_equal_the_reference_package(model_dir):
    bilm = load_bilm(model_dir)
    assert isinstance(bilm, ManyLangsBiLM)
    with torch.inference_mode():
        ours = bilm.embed_tokens(SENTENCES)
    for output_layer in (0, 1, 2, -1, -2):
        theirs = reference_layers(model_dir, SENTENCES, output_layer)
        for i, sentence in enumerate(SENTENCES):
            layers = ours.layers[:, i, : len(sentence)].numpy()
            if output_layer == -1:
                mine = layers.mean(axis=0)
            elif output_layer == -2:
                mine = layers
            else:
                mine = layers[output_layer]
            assert theirs[i].shape == mine.shape
            np.testing.assert_allclose(mine, theirs[i], atol=1e-5, rtol=0)


def test_their_embedder_carries_state_ours_is_deterministic(model_dir):
    from elmoformanylangs import Embedder

    embedder = Embedder(str(model_dir), batch_size=64)
    first = embedder.sents2elmo(SENTENCES[:2], output_layer=2)
    second = embedder.sents2elmo(SENTENCES[:2], output_layer=2)
    assert not np.allclose(first[0], second[0], atol=1e-4)  # theirs drifts with history
    bilm = load_bilm(model_dir)
    with torch.inference_mode():
        a = bilm.embed_tokens(SENTENCES[:2]).layers
        b = bilm.embed_tokens(SENTENCES[:2]).layers
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    np.testing.assert_allclose(a[2, 0, :3].numpy(), first[0], atol=1e-5, rtol=0)
    # In stateful mode ours carries the state as theirs does.
    stateful = load_bilm(model_dir, stateful=True)
    with torch.inference_mode():
        stateful.embed_tokens(SENTENCES[:2])
        again = stateful.embed_tokens(SENTENCES[:2]).layers
    np.testing.assert_allclose(again[2, 0, :3].numpy(), second[0], atol=1e-5, rtol=0)


def test_through_the_elmo_component(model_dir):
    from elmoformanylangs import Embedder

    nlp = spacy.blank("zh")
    nlp.add_pipe("elmo", config={"weights": str(model_dir), "layers": "all"})
    nlp.initialize()
    doc = nlp("我们喜欢银行")
    words = [t.text for t in doc]
    theirs = Embedder(str(model_dir)).sents2elmo([words], output_layer=-2)[0]
    assert doc._.elmo.layers.shape == theirs.shape == (3, len(words), 16)
    np.testing.assert_allclose(doc._.elmo.layers, theirs, atol=1e-5, rtol=0)


def test_written_back_their_package_reads_it_the_same(model_dir, tmp_path):
    bilm = load_bilm(model_dir)
    out = tmp_path / "copy"
    write_model_dir(bilm, out)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_model_dir(bilm, out)
    for name in ("token_embedder.pkl", "encoder.pkl"):
        original = torch.load(model_dir / name, weights_only=True)
        copied = torch.load(out / name, weights_only=True)
        assert set(original) == set(copied)
        for key in original:
            assert torch.equal(original[key], copied[key]), key
    assert parse_dictionary((out / "char.dic").read_text("utf8"), "c") == parse_dictionary(
        (model_dir / "char.dic").read_text("utf8"), "c"
    )
    np.testing.assert_allclose(
        reference_layers(out, SENTENCES, -2)[1], reference_layers(model_dir, SENTENCES, -2)[1]
    )


def test_edge_cases_have_defined_results(model_dir):
    bilm = load_bilm(model_dir)
    with torch.inference_mode():
        out = bilm.embed_tokens([[], ["x" * 500], ["???"], ["中", "a"]])
    assert out.layers.shape[:3] == (3, 4, 2)
    assert not out.mask[0].any() and (out.layers[:, 0] == 0).all()
    # Only the first max_chars - 2 characters count; unknown characters are <oov>.
    with torch.inference_mode():
        long = bilm.embed_tokens([["x" * 8], ["x" * 500], ["!!!"], ["???"]]).layers
    torch.testing.assert_close(long[:, 0], long[:, 1])
    torch.testing.assert_close(long[:, 2], long[:, 3])
    with pytest.raises(ElmoFormatError, match="reads token strings"):
        bilm(torch.zeros(1, 1, 10, dtype=torch.long))


def test_bad_directories_get_one_line_errors(model_dir, tmp_path):
    (model_dir / "config.json").write_text(json.dumps({"config_path": "elsewhere/nothing.json"}))
    with pytest.raises(ElmoFormatError, match="neither in the model directory"):
        read_model_dir(model_dir)
    # The published architecture is known by name, as in their package.
    (model_dir / "config.json").write_text(
        json.dumps({"config_path": "/their/machine/cnn_50_100_512_4096_sample.json"})
    )
    with pytest.raises(ElmoFormatError, match="does not match the architecture"):
        read_model_dir(model_dir)
    (model_dir / "config.json").write_text(json.dumps({"config_path": "arch.json"}))

    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"x": Evil()}, model_dir / "encoder.pkl")
    with pytest.raises(ElmoFormatError, match="encoder.pkl: needs print, not only tens"):
        read_model_dir(model_dir)
    (model_dir / "encoder.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ElmoFormatError, match="encoder.pkl: not a PyTorch state dict"):
        read_model_dir(model_dir)
    with pytest.raises(ElmoFormatError, match="line 2: expected ENTRY<TAB>ID"):
        parse_dictionary("a\t1\nb\tc\td\n", "char.dic")


def test_pipeline_round_trip_convert_and_info(model_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_elmo import save_weights_files
    from spacy_elmo.cli import app

    nlp = spacy.blank("zh")
    nlp.add_pipe("elmo", config={"weights": str(model_dir), "layers": "all"})
    nlp.initialize()
    expected = nlp("我们喜欢银行")._.elmo.layers
    nlp.to_disk(tmp_path / "pipeline")
    assert (tmp_path / "pipeline" / "elmo" / "encoder.pkl").is_file()
    assert not (tmp_path / "pipeline" / "elmo" / "weights.hdf5").exists()
    for loaded in (spacy.load(tmp_path / "pipeline"), spacy.blank("zh")):
        if not loaded.pipe_names:
            loaded.add_pipe("elmo", config={"layers": "all"})
            loaded.from_bytes(nlp.to_bytes())
        np.testing.assert_array_equal(loaded("我们喜欢银行")._.elmo.layers, expected)
    # The saved pipeline is a weights reference like the directory itself.
    assert isinstance(load_bilm(tmp_path / "pipeline"), ManyLangsBiLM)

    runner = CliRunner()
    # --to files writes a biLM in its own kind of files: a model directory here.
    result = runner.invoke(app, ["convert", str(tmp_path / "pipeline"), str(tmp_path / "as-files")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "as-files" / "encoder.pkl").is_file()
    assert not (tmp_path / "as-files" / "weights.hdf5").exists()
    assert same_weights(load_bilm(tmp_path / "as-files"), load_bilm(model_dir))
    with pytest.raises(ElmoFormatError, match="--to pipeline"):
        save_weights_files(load_bilm(model_dir), tmp_path / "x")
    result = runner.invoke(
        app,
        [
            "convert",
            str(model_dir),
            str(tmp_path / "converted"),
            "--to",
            "pipeline",
            "--lang",
            "zh",
        ],
    )
    assert result.exit_code == 0, result.output
    converted = spacy.load(tmp_path / "converted")
    doc = converted("我们喜欢银行")
    assert doc._.elmo.vectors.shape == (len(doc), 16)
    np.testing.assert_allclose(doc._.elmo.vectors, expected.mean(axis=0), atol=1e-6)
    result = runner.invoke(app, ["info", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "ELMoForManyLangs: 12 words x 6, 43 characters x 5" in result.output
    assert "output:     3 layers of 16" in result.output


def test_adapting_an_elmoformanylangs_model_is_refused(model_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_elmo.cli import app

    text = tmp_path / "train.txt"
    text.write_text("我们 喜欢 银行 。\n" * 400, encoding="utf8")
    result = CliRunner().invoke(
        app,
        [
            "pretrain",
            str(tmp_path / "run"),
            "--preset",
            "tiny",
            "--train",
            str(text),
            "--paths.init_weights",
            str(model_dir),
            "--training.max_steps",
            "1",
            "--training.batch_size",
            "2",
        ],
    )
    assert result.exit_code == 1
    assert "cannot be adapted here" in result.output
