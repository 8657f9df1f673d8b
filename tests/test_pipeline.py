import subprocess
import sys

import numpy as np
import pytest
import spacy
import srsly
import torch
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from spacy_elmo import ElmoDocData, ElmoEmbedder, load_bilm, save_weights_files, set_vector_hooks
from spacy_elmo.pipeline.bilm_shim import get_bilm


@pytest.fixture
def weights_dir(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "bilm")
    return str(tmp_path / "bilm")


def make_nlp(weights_dir, **config):
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": weights_dir, **config})
    return nlp


def bare_layers(weights_dir, tokens):
    return ElmoEmbedder(weights_dir, device="cpu").embed_sentence(tokens)


def test_doc_token_span_extensions_match_the_bare_bilm(weights_dir):
    nlp = make_nlp(weights_dir, layers="all")
    doc = nlp("The bank raised rates.")
    expected = bare_layers(weights_dir, [t.text for t in doc])
    data = doc._.elmo
    assert isinstance(data, ElmoDocData)
    assert data.names == ["token", "lstm1", "lstm2"]
    assert data.layers.shape == (3, len(doc), 16) and data.dim == 16
    np.testing.assert_allclose(data.layers, expected, atol=1e-6)
    np.testing.assert_allclose(doc[1]._.elmo, expected[:, 1].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(doc[1:3]._.elmo, expected[:, 1:3].mean(axis=(0, 1)), atol=1e-6)


@pytest.mark.parametrize(
    "config,names,reduce",
    [
        ({"layers": "average"}, ["average"], lambda x: x.mean(axis=0)),
        ({"layers": "top"}, ["top"], lambda x: x[-1]),
        ({"layers": 1}, ["lstm1"], lambda x: x[1]),
        ({"layers": -3}, ["token"], lambda x: x[0]),
        ({"layers": "mix"}, ["mix"], lambda x: x.mean(axis=0)),
        (
            {"layers": "mix", "mix_weights": [0.0, 1.0, 2.0]},
            ["mix"],
            lambda x: np.tensordot(np.exp([0, 1, 2]) / np.exp([0, 1, 2]).sum(), x, axes=(0, 0)),
        ),
    ],
)
def test_layer_choices(weights_dir, config, names, reduce):
    nlp = make_nlp(weights_dir, **config)
    doc = nlp("A short test sentence")
    expected = bare_layers(weights_dir, [t.text for t in doc])
    assert doc._.elmo.names == names
    np.testing.assert_allclose(doc._.elmo.layers[0], reduce(expected), atol=1e-5)
    np.testing.assert_allclose(doc[2].vector, reduce(expected)[2], atol=1e-5)


@pytest.mark.parametrize("layers", ["average", "top", 1, "mix"])
def test_predict_keeps_only_the_stored_layers_of_a_long_doc(weights_dir, layers):
    """Without listeners, predict reduces batch by batch: a long Doc without sentences
    (many windows, several batches) comes back with one layer, equal to reducing every
    layer afterwards."""
    nlp = make_nlp(weights_dir, layers=layers)
    nlp.get_pipe("elmo").model.attrs["max_batch_tokens"] = 128
    words = [f"w{i % 50}" for i in range(1000)]
    (one,) = nlp.get_pipe("elmo").predict([Doc(nlp.vocab, words=words)])
    assert one.shape == (1, 1000, 16)
    full = make_nlp(weights_dir, layers="all")(Doc(nlp.vocab, words=words))._.elmo.layers
    component = nlp.get_pipe("elmo")
    expected = component._keep(torch.from_numpy(full)).numpy()
    np.testing.assert_allclose(one, expected, atol=1e-6)


def test_float16_storage_and_doc_tensor(weights_dir):
    doc = make_nlp(weights_dir, dtype="float16", doc_tensor=True)("Half precision please")
    assert doc._.elmo.layers.dtype == np.float16
    assert doc.tensor.shape == (3, 16) and doc.tensor.dtype == np.float32
    np.testing.assert_array_equal(doc.tensor, doc._.elmo.layers[0].astype(np.float32))


@pytest.mark.parametrize(
    "config,message",
    [
        ({"layers": "bottom"}, "layers must be one of"),
        ({"dtype": "int8"}, "dtype must be one of"),
        ({"layers": "top", "mix_weights": [1, 2, 3]}, "mix_weights are only used with"),
        ({"layers": "mix", "mix_weights": [1, 2]}, "2 mix_weights for a biLM with 3 layers"),
        ({"layers": 3}, "layers = 3 but the biLM has 3 layers"),
    ],
)
def test_bad_settings(weights_dir, config, message):
    """Settings that need no biLM fail when the pipe is made, the others when its
    weights are read (at its first use)."""
    with pytest.raises(ValueError, match=message):
        make_nlp(weights_dir, **config)("Some text")


def test_vector_hooks_and_similarity(weights_dir):
    nlp = make_nlp(weights_dir)
    doc1 = nlp("He sat on the river bank")
    doc2 = nlp("The bank raised its rates")
    bank1, bank2 = doc1[5], doc2[1]
    np.testing.assert_array_equal(bank1.vector, bank1._.elmo)
    assert bank1.has_vector and doc1.has_vector and doc1[1:3].has_vector
    np.testing.assert_allclose(doc1.vector, doc1._.elmo.vectors.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(doc1[0:2].vector, doc1[0:2]._.elmo, atol=1e-6)
    cosine = (
        bank1.vector @ bank2.vector / np.linalg.norm(bank1.vector) / np.linalg.norm(bank2.vector)
    )
    assert bank1.similarity(bank2) == pytest.approx(cosine, abs=1e-6)
    assert bank1.similarity(bank2) < 0.9999  # same word, different contexts
    assert doc1.similarity(doc2) == pytest.approx(
        doc1.vector @ doc2.vector / doc1.vector_norm / doc2.vector_norm, abs=1e-5
    )
    span = doc1[3:6]  # (spaCy's Span.vector_norm calls the "vector" hook: not used here)
    assert span.similarity(doc2) == pytest.approx(
        span.vector @ doc2.vector / np.linalg.norm(span.vector) / doc2.vector_norm, abs=1e-5
    )


def test_without_vector_hooks(weights_dir):
    doc = make_nlp(weights_dir, vector_hooks=False)("No hooks here")
    assert doc._.elmo is not None
    assert doc[0].vector.shape == (0,)


def test_sentences_are_encoded_separately(weights_dir):
    nlp = make_nlp(weights_dir, layers="all")
    words = ["First", "one", ".", "Second", "sentence", "here", "."]
    doc = Doc(nlp.vocab, words=words, sent_starts=[1, 0, 0, 1, 0, 0, 0])
    doc = nlp(doc)
    second = bare_layers(weights_dir, words[3:])
    np.testing.assert_allclose(doc._.elmo.layers[:, 3:], second, atol=1e-6)
    whole = nlp(Doc(nlp.vocab, words=words))  # no boundaries: one window
    np.testing.assert_allclose(whole._.elmo.layers, bare_layers(weights_dir, words), atol=1e-6)


def test_long_doc_without_sentences_is_windowed(weights_dir):
    nlp = spacy.blank("en")
    config = {"weights": weights_dir, "layers": "top", "model": {"window": 50}}
    nlp.add_pipe("elmo", config=config)
    words = [f"w{i % 97}" for i in range(100_000)]
    doc = nlp(Doc(nlp.vocab, words=words))
    assert doc._.elmo.layers.shape == (1, 100_000, 16)
    assert np.abs(doc._.elmo.layers).sum(axis=-1).min() > 0
    # Window k (tokens 50k..50k+49) is encoded as a sentence of its own.
    window = bare_layers(weights_dir, words[500:550])
    np.testing.assert_allclose(doc._.elmo.layers[0, 500:550], window[-1], atol=1e-6)


def test_whitespace_tokens_get_zero_vectors(weights_dir):
    nlp = make_nlp(weights_dir, layers="all")
    doc = nlp(Doc(nlp.vocab, words=["Hello", "\n\n", "world", " "], spaces=[0, 0, 0, 0]))
    assert not doc._.elmo.layers[:, [1, 3]].any()
    without = bare_layers(weights_dir, ["Hello", "world"])
    np.testing.assert_allclose(doc._.elmo.layers[:, [0, 2]], without, atol=1e-6)
    assert doc[1].similarity(doc[0]) == 0.0


@pytest.mark.parametrize(
    "words",
    [
        [],
        [" ", "  "],
        [".", ",", "!", "?"],
        ["x" * 300, "y" * 51],
        ["😀", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\x00", "\x07bell"],  # (spaCy cannot hold lone surrogates)
    ],
)
def test_awkward_docs(weights_dir, words):
    nlp = make_nlp(weights_dir)
    doc = nlp(Doc(nlp.vocab, words=words, spaces=[False] * len(words)))
    assert doc._.elmo.layers.shape == (1, len(words), 16)
    assert np.isfinite(doc._.elmo.layers).all()
    doc.vector  # noqa: B018  (must not fail)


def test_pipe_batches_match_single_docs(weights_dir):
    nlp = make_nlp(weights_dir, layers="all")
    texts = [" ".join(f"t{j}" for j in range(i % 13 + 1)) for i in range(40)]
    piped = list(nlp.pipe(texts, batch_size=7))
    for text, doc in zip(texts, piped):
        assert doc.text == text
        np.testing.assert_allclose(doc._.elmo.layers, nlp(text)._.elmo.layers, atol=1e-5)


def test_without_weights_the_shipped_bilm_loads_on_first_use(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo")
    assert nlp("The bank raised rates .")[1]._.elmo.shape == (256,)
    with pytest.raises(Exception, match="ELMo weights not found"):
        nlp.get_pipe("elmo").load_weights(str(tmp_path / "nothing" / "options.json"))


def test_initialize_loads_weights(weights_dir, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo")
    nlp.config["initialize"]["components"]["elmo"] = {"weights": weights_dir}
    nlp.initialize()
    assert nlp("Loaded at initialize")._.elmo is not None
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "options.json").write_text("{}")
    (bad / "weights.hdf5").write_text("nope")
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("elmo")
    with pytest.raises(Exception, match="missing key lstm"):
        nlp2.get_pipe("elmo").initialize(lambda: [], weights=str(bad))


def test_add_to_trained_pipeline_without_reinitializing(weights_dir):
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat")
    textcat.add_label("POS")
    textcat.add_label("NEG")
    nlp.initialize()
    before = nlp("good stuff").cats
    nlp.add_pipe("elmo", first=True, config={"weights": weights_dir})
    doc = nlp("good stuff")
    assert doc.cats == before and doc._.elmo is not None


def test_update_annotates_and_changes_nothing(weights_dir):
    nlp = make_nlp(weights_dir)
    bilm = nlp.get_pipe("elmo").bilm
    before = {k: v.clone() for k, v in bilm.state_dict().items()}
    eg = Example.from_dict(nlp.make_doc("Train on this"), {})
    losses = nlp.get_pipe("elmo").update([eg])
    assert eg.predicted._.elmo is not None and losses["elmo"] == 0.0
    assert "elmo" in nlp.update([eg])
    assert all(torch.equal(before[k], v) for k, v in bilm.state_dict().items())


def test_to_disk_and_spacy_load(weights_dir, tmp_path):
    nlp = make_nlp(weights_dir, layers="all")
    doc = nlp("Serialize me please")
    nlp.to_disk(tmp_path / "pipeline")
    files = sorted(p.name for p in (tmp_path / "pipeline" / "elmo").iterdir())
    assert files == ["cfg", "options.json", "weights.hdf5"]
    loaded = spacy.load(tmp_path / "pipeline")
    np.testing.assert_array_equal(loaded("Serialize me please")._.elmo.layers, doc._.elmo.layers)
    # The saved pipeline is itself a weights reference.
    assert load_bilm(tmp_path / "pipeline").output_dim == 16


def test_to_bytes_and_from_bytes(weights_dir):
    nlp = make_nlp(weights_dir, layers="all")
    expected = nlp("Bytes round trip")._.elmo.layers
    data = nlp.to_bytes()
    other = spacy.blank("en")
    other.add_pipe("elmo", config={"layers": "all"})
    other.from_bytes(data)
    np.testing.assert_array_equal(other("Bytes round trip")._.elmo.layers, expected)


def test_loading_with_a_mismatched_config(weights_dir, tmp_path):
    nlp = make_nlp(weights_dir)
    nlp.to_disk(tmp_path / "p")
    config = (tmp_path / "p" / "config.cfg").read_text()
    (tmp_path / "p" / "config.cfg").write_text(config.replace('layers = "average"', "layers = 7"))
    with pytest.raises(ValueError, match="layers = 7 but the biLM has 3 layers"):
        spacy.load(tmp_path / "p")
    (tmp_path / "p" / "config.cfg").write_text(config)
    srsly.write_json(tmp_path / "p" / "elmo" / "cfg", {"n_output_layers": 3, "output_dim": 32})
    with pytest.raises(ValueError, match="describes a biLM with"):
        spacy.load(tmp_path / "p")


def test_docbin_keeps_elmo_data(weights_dir):
    nlp = make_nlp(weights_dir, dtype="float16", layers="all")
    docs = list(nlp.pipe(["One doc", "Another doc here"]))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin().from_bytes(data).get_docs(nlp.vocab))
    for doc, back in zip(docs, restored):
        assert back._.elmo.names == doc._.elmo.names
        np.testing.assert_array_equal(back._.elmo.layers, doc._.elmo.layers)
        assert back._.elmo.layers.dtype == np.float16
        set_vector_hooks(back)
        np.testing.assert_array_equal(back[0].vector, doc[0].vector)


def test_doc_cleaner_removes_elmo_data(weights_dir):
    nlp = make_nlp(weights_dir)
    nlp.add_pipe("doc_cleaner", config={"attrs": {"_.elmo": None}})
    doc = nlp("Clean me")
    assert doc._.elmo is None and doc[0]._.elmo is None
    assert doc[0].vector.shape == (0,)  # hooks fall back to spaCy's vectors


def test_multiprocessing_pipe(weights_dir):
    nlp = make_nlp(weights_dir)
    texts = ["First text", "Second one here", "Third"]
    expected = [nlp(t)._.elmo.layers for t in texts]
    docs = list(nlp.pipe(texts, n_process=2, batch_size=1))
    for doc, layers in zip(docs, expected):
        np.testing.assert_allclose(doc._.elmo.layers, layers, atol=1e-6)
        set_vector_hooks(doc)  # spaCy drops user hooks from other processes (W109)
        np.testing.assert_allclose(doc.vector, layers[0].mean(axis=0), atol=1e-6)


def test_spacy_package_requires_spacy_elmo(weights_dir, tmp_path):
    make_nlp(weights_dir).to_disk(tmp_path / "pipeline")
    (tmp_path / "out").mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "package",
            str(tmp_path / "pipeline"),
            str(tmp_path / "out"),
        ]
        + ["--name", "elmo_test", "--version", "0.0.1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    meta = srsly.read_json(tmp_path / "out" / "en_elmo_test-0.0.1" / "meta.json")
    assert any(r.startswith("spacy-elmo") for r in meta["requirements"])
    assert list((tmp_path / "out" / "en_elmo_test-0.0.1" / "dist").glob("*.tar.gz"))


def test_bilm_layer_backpropagates_into_the_weights(weights_dir):
    """The thinc layer's training path (used when the biLM is fine-tuned)."""
    nlp = make_nlp(weights_dir)
    model = nlp.get_pipe("elmo").model
    model.initialize()  # reads the weights reference the component gave it
    docs = [nlp.make_doc("Gradients flow back"), nlp.make_doc("Two docs")]
    outputs, backprop = model.begin_update(docs)
    np.testing.assert_allclose(outputs[0], model.predict(docs)[0], atol=1e-6)
    bilm = get_bilm(model)
    bilm.zero_grad()
    backprop([np.ones_like(o) for o in outputs])
    grads = [p.grad for p in bilm.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_empty_weights_setting_is_an_error():
    """weights = "" never silently means the shipped biLM."""
    from spacy_elmo.errors import ElmoFormatError

    nlp = spacy.blank("en")
    with pytest.raises(ElmoFormatError, match="empty string.*null"):
        nlp.add_pipe("elmo", config={"weights": ""})
