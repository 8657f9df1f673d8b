"""The listener contract, the embedded and concat architectures, replace_listeners,
sourcing, the clear errors, and the segment cache."""

import logging

import numpy as np
import pytest
import spacy
import torch
from spacy import util
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.ty import ListenedToComponent
from thinc.api import Config

from spacy_elmo import load_bilm, save_weights_files
from spacy_elmo.pipeline.bilm_shim import bilm_shim, get_bilm, get_segment_cache, set_bilm
from spacy_elmo.pipeline.listener import ElmoListener

from .util import ner_docs, write_corpus

WIDTH = 16  # the tiny biLM's width

PIPELINE = """
[nlp]
lang = "en"
pipeline = {pipeline}

[components]

[components.elmo]
factory = "elmo"
weights = {weights}

[components.elmo.model]
@architectures = "spacy-elmo.ElmoBiLM.v2"
cache_mb = {cache_mb}

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
hidden_width = 16
maxout_pieces = 2
use_upper = true

[components.ner.model.tok2vec]
@architectures = "spacy-elmo.ElmoConcatTok2Vec.v1"

[components.ner.model.tok2vec.elmo]
@architectures = "spacy-elmo.ElmoListener.v1"
width = {width}
grad_factor = {grad_factor}

[components.ner.model.tok2vec.features]
@architectures = "spacy.Tok2Vec.v2"

[components.ner.model.tok2vec.features.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 8
attrs = ["NORM", "SHAPE"]
rows = [500, 50]
include_static_vectors = false

[components.ner.model.tok2vec.features.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 8
depth = 1
window_size = 1
maxout_pieces = 2

[components.textcat]
factory = "textcat"

[components.textcat.model]
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = true
use_reduce_first = false
use_reduce_last = false
use_reduce_max = true
use_reduce_mean = true

[components.textcat.model.tok2vec]
@architectures = "spacy-elmo.ElmoListener.v1"
width = {width}
grad_factor = {grad_factor}
projection = 8
"""
TEXTS = ["Alice lives in Paris .", "In Oslo , Tom Hardy met the mayor . It was cold ."]


@pytest.fixture
def weights_dir(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "bilm")
    return str(tmp_path / "bilm")


def make_nlp(
    weights_dir,
    pipeline=("elmo", "ner", "textcat"),
    width=WIDTH,
    grad_factor=0.0,
    cache_mb=0,
    weights_in_config=True,
):
    text = PIPELINE.format(
        pipeline=list(pipeline),
        weights=f'"{weights_dir}"' if weights_in_config else "null",
        width=width,
        grad_factor=grad_factor,
        cache_mb=cache_mb,
    )
    config = util.load_config_from_str(text.replace("'", '"'))
    return util.load_model_from_config(config, auto_fill=True, validate=True)


def examples(nlp, n=12):
    out = []
    for i, doc in enumerate(ner_docs(spacy.blank("en"), n)):
        ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        cats = {"POS": float(i % 2 == 0), "NEG": float(i % 2 == 1)}
        out.append(Example.from_dict(nlp.make_doc(doc.text), {"entities": ents, "cats": cats}))
    return out


def trained(nlp, n_steps=4, **update_kwargs):
    egs = examples(nlp)
    optimizer = nlp.initialize(lambda: egs)
    for _ in range(n_steps):
        nlp.update(egs, sgd=optimizer, **update_kwargs)
    return nlp


def predictions(nlp, texts=TEXTS):
    docs = list(nlp.pipe(texts))
    return [[(e.start, e.end, e.label_) for e in d.ents] for d in docs], [d.cats for d in docs]


def assert_same_predictions(a, b):
    assert a[0] == b[0]
    for cats_a, cats_b in zip(a[1], b[1]):
        np.testing.assert_array_equal(list(cats_a.values()), list(cats_b.values()))


def bilm_params(nlp, name="elmo"):
    return [p.detach().clone() for p in nlp.get_pipe(name).bilm.parameters()]


def mix_layers_of(nlp, component):
    return [n for n in nlp.get_pipe(component).model.walk() if n.name == "elmo_scalar_mix"]


# The mix ------------------------------------------------------------------------


@pytest.mark.parametrize("layer_norm", [False, True])
def test_mix_matches_numpy_forward_and_torch_gradients(layer_norm):
    from spacy_elmo import ScalarMix
    from spacy_elmo.pipeline.mix import ElmoScalarMix

    rng = np.random.default_rng(0)
    lengths = [3, 0, 5]
    X = [rng.normal(size=(3, n, 4)).astype("float32") * 2 + 1 for n in lengths]
    mix = ElmoScalarMix(layer_norm=layer_norm, l2_coef=0.1)
    mix.initialize(X=X)
    w = np.array([0.3, -0.2, 0.5], dtype="float32")
    mix.set_param("W", w.copy())
    mix.set_param("gamma", np.array([1.7], dtype="float32"))
    Y, backprop = mix(X, is_train=True)

    # Forward, against numpy: statistics over every token of the batch.
    Xc = np.concatenate(X, axis=1)
    if layer_norm:
        mean = Xc.mean(axis=(1, 2), keepdims=True)
        Xc = (Xc - mean) / np.sqrt(((Xc - mean) ** 2).mean(axis=(1, 2), keepdims=True) + 1e-12)
    s = np.exp(w) / np.exp(w).sum()
    expected = 1.7 * np.tensordot(s, Xc, axes=(0, 0))
    np.testing.assert_allclose(np.concatenate(Y), expected, rtol=1e-5, atol=1e-5)
    assert [y.shape for y in Y] == [(3, 4), (0, 4), (5, 4)]

    # Backward, against the torch ScalarMix (the spec's implementation) + L2 on w.
    dY = [rng.normal(size=y.shape).astype("float32") for y in Y]
    dX = backprop(dY)
    torch_mix = ScalarMix(3, initial_weights=w.tolist(), layer_norm=layer_norm)
    with torch.no_grad():
        torch_mix.gamma.fill_(1.7)
    x = torch.tensor(np.concatenate(X, axis=1), requires_grad=True)
    out = torch_mix(x)
    loss = (out * torch.tensor(np.concatenate(dY))).sum() + 0.1 * (torch_mix.weights**2).sum()
    loss.backward()
    np.testing.assert_allclose(mix.get_grad("W"), torch_mix.weights.grad, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mix.get_grad("gamma"), torch_mix.gamma.grad, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.concatenate(dX, axis=1), x.grad, rtol=1e-4, atol=1e-5)


def test_mix_layer_and_mix_layers_agree():
    """The thinc layer (gamma = 1) and the fixed-weight numpy mix share one mix (the
    layer's softmax is in float32, mix_layers' in float64)."""
    from spacy_elmo.bilm.scalar_mix import mix_layers
    from spacy_elmo.pipeline.mix import ElmoScalarMix

    X = [np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")]
    mix = ElmoScalarMix(initial_weights=[0.3, -0.2, 0.5])
    mix.initialize(X=X)
    np.testing.assert_allclose(mix.predict(X)[0], mix_layers(X[0], [0.3, -0.2, 0.5]), rtol=1e-6)


def test_mix_dropout_own_rate_and_fixed_weights():
    from thinc.api import set_dropout_rate

    from spacy_elmo.pipeline.mix import ElmoScalarMix

    X = [np.ones((2, 50, 8), dtype="float32")]
    mix = ElmoScalarMix(dropout=0.5, initial_weights=[1.0, 0.0], trainable=False)
    mix.initialize(X=X)
    set_dropout_rate(mix, 0.0)  # spaCy's [training] dropout does not touch it
    Y, backprop = mix(X, is_train=True)
    assert (Y[0] == 0).mean() > 0.2
    np.testing.assert_allclose(mix.predict(X)[0], np.ones((50, 8)), rtol=1e-6)
    backprop([np.ones_like(Y[0])])
    assert not mix.has_grad("W") and not mix.has_grad("gamma")
    with pytest.raises(ValueError, match="2 initial mix weights for a biLM with 3 layers"):
        ElmoScalarMix(initial_weights=[1.0, 0.0]).initialize(X=[np.ones((3, 2, 8), "f")])


# The listener contract ----------------------------------------------------------


def test_elmo_is_a_listened_to_component(weights_dir):
    nlp = make_nlp(weights_dir)
    elmo = nlp.get_pipe("elmo")
    assert isinstance(elmo, ListenedToComponent)
    assert elmo.listening_components == ["ner", "textcat"]
    ner_listener, textcat_listener = elmo.listeners
    assert isinstance(ner_listener, ElmoListener) and ner_listener.upstream_component == "elmo"
    assert not ner_listener.has_dim("nL")  # the weights are read at initialize
    nlp.initialize(lambda: examples(nlp))
    assert ner_listener.get_dim("nL") == 3
    assert elmo.remove_listener(ner_listener, "ner") and elmo.listening_components == ["textcat"]
    assert not elmo.remove_listener(ner_listener, "ner")
    elmo.add_listener(ner_listener, "ner")
    assert elmo.listener_map["ner"] == [ner_listener]


def test_one_bilm_pass_per_batch_and_one_mix_per_task(weights_dir):
    nlp = make_nlp(weights_dir)
    elmo = nlp.get_pipe("elmo")
    calls = []
    forward = elmo.model._func

    def counting(model, docs, is_train):
        calls.append(len(docs))
        return forward(model, docs, is_train)

    elmo.model._func = counting
    before = bilm_params(nlp)
    egs = examples(nlp)
    optimizer = nlp.initialize(lambda: egs)
    calls.clear()
    losses = {}
    for _ in range(3):
        nlp.update(egs, sgd=optimizer, losses=losses)
    assert calls == [len(egs)] * 3  # one biLM pass per batch, shared by ner and textcat
    assert losses["elmo"] == 0.0 and losses["ner"] > 0 and losses["textcat"] > 0
    for a, b in zip(before, bilm_params(nlp)):
        assert torch.equal(a, b)  # frozen by default
    (ner_mix,), (textcat_mix,) = mix_layers_of(nlp, "ner"), mix_layers_of(nlp, "textcat")
    w_ner, w_textcat = ner_mix.get_param("W"), textcat_mix.get_param("W")
    assert np.abs(w_ner).sum() > 0 and np.abs(w_textcat).sum() > 0
    assert not np.allclose(w_ner, w_textcat)  # each task learns its own mix
    for listener in elmo.listeners:  # the batch is freed once its gradient is sent
        assert listener._outputs is None and listener._backprop is None


def test_listener_gradients_are_summed_and_scaled(weights_dir):
    nlp = make_nlp(weights_dir, grad_factor=1.0)
    elmo = nlp.get_pipe("elmo")
    ner_listener, textcat_listener = elmo.listeners
    textcat_listener.attrs["grad_factor"] = 0.5
    received = []
    forward = elmo.model._func

    def capturing(model, docs, is_train):
        out, backprop = forward(model, docs, is_train)

        def capture(d_out):
            received.append([d.copy() for d in d_out])
            return backprop(d_out)

        return out, capture

    elmo.model._func = capturing
    egs = examples(nlp, 3)
    nlp.initialize(lambda: egs)
    docs = [eg.predicted for eg in egs]
    updates = []
    losses = elmo.update(egs, sgd=lambda *a, **k: updates.append(1) or a[1:3])
    layers, bp_ner = ner_listener(docs, is_train=True)
    _, bp_textcat = textcat_listener(docs, is_train=True)
    d1 = [np.full_like(x, 1.0) for x in layers]
    d2 = [np.full_like(x, 3.0) for x in layers]
    bp_ner(d1)
    assert not received  # only the last listener's callback backpropagates
    bp_textcat(d2)
    (total,) = received
    for t, a, b in zip(total, d1, d2):
        np.testing.assert_allclose(t, a + 0.5 * b)
    assert updates and losses["elmo"] > 0
    assert ner_listener._outputs is None and textcat_listener._outputs is None
    with pytest.raises(ValueError, match="Mismatched IDs"):
        elmo.update(egs)
        ner_listener(docs[:1], is_train=True)


def test_fine_tuning_changes_the_bilm(weights_dir):
    nlp = make_nlp(weights_dir, grad_factor=1.0)
    before = bilm_params(nlp)
    losses = {}
    trained(nlp, losses=losses)
    assert losses["elmo"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, bilm_params(nlp)))


def test_inference_reads_the_layers_stored_on_docs(weights_dir):
    nlp = trained(make_nlp(weights_dir))
    doc = nlp(TEXTS[1])
    layers = doc._._elmo_layers
    np.testing.assert_array_equal(layers, nlp.get_pipe("elmo").predict([doc])[0])
    assert doc._.elmo.names == ["average"]  # the user-facing data is as configured
    # The listener read these layers: changing them changes the prediction.
    tok2vec = nlp.get_pipe("ner").model.get_ref("tok2vec")
    vectors = tok2vec.predict([doc])
    doc._._elmo_layers = layers * 0 + 5
    assert not np.allclose(tok2vec.predict([doc]), vectors)
    # Without listeners nothing extra is stored; doc_cleaner drops the layers.
    plain = spacy.blank("en")
    plain.add_pipe("elmo", config={"weights": weights_dir})
    assert plain("No listeners here")._._elmo_layers is None
    nlp.add_pipe("doc_cleaner", config={"attrs": {"_._elmo_layers": None}})
    cleaned = nlp(TEXTS[0])
    assert cleaned._._elmo_layers is None and cleaned._.elmo is not None


def test_skipping_elmo_is_an_error_not_zeros(weights_dir):
    nlp = trained(make_nlp(weights_dir))
    with nlp.select_pipes(disable=["elmo"]):
        with pytest.raises(ValueError, match="did not run on it"):
            nlp(TEXTS[0])


# replace_listeners and sourcing -------------------------------------------------


def test_replace_listeners_keeps_predictions_and_rewrites_the_config(weights_dir, tmp_path):
    nlp = trained(make_nlp(weights_dir, cache_mb=1))
    expected = predictions(nlp)
    nlp.replace_listeners("elmo", "ner", ["model.tok2vec.elmo"])
    nlp.replace_listeners("elmo", "textcat", ["model.tok2vec"])
    assert nlp.get_pipe("elmo").listening_components == []
    for name, path in (("ner", ["tok2vec", "elmo"]), ("textcat", ["tok2vec"])):
        cfg = nlp.config["components"][name]["model"]
        for key in path:
            cfg = cfg[key]
        assert cfg["@architectures"] == "spacy-elmo.ElmoTok2Vec.v1"
        assert cfg["bilm"]["@architectures"] == "spacy-elmo.ElmoBiLM.v2"
        assert cfg["bilm"]["cache_mb"] == 1
        assert cfg["width"] == WIDTH and cfg["grad_factor"] == 0.0
    assert "upstream" not in nlp.config["components"]["textcat"]["model"]["tok2vec"]
    nlp.remove_pipe("elmo")
    assert_same_predictions(predictions(nlp), expected)
    nlp.to_disk(tmp_path / "replaced")
    assert_same_predictions(predictions(spacy.load(tmp_path / "replaced")), expected)


def test_source_a_trained_elmo_and_train_a_new_listener(weights_dir, tmp_path, caplog):
    source = trained(make_nlp(weights_dir, pipeline=("elmo", "ner")))
    source.to_disk(tmp_path / "source")
    source_ner = predictions(source)[0]
    nlp_base = make_nlp(weights_dir)
    config = nlp_base.config.copy()
    config["components"]["elmo"] = {"source": str(tmp_path / "source")}
    config["components"]["ner"] = {
        "source": str(tmp_path / "source"),
        "replace_listeners": ["model.tok2vec.elmo"],
    }
    train = write_corpus([eg.reference for eg in examples(nlp_base)], tmp_path / "train.spacy")
    config["paths"].update({"train": train, "dev": train})
    config["corpora"] = {
        name: {"@readers": "spacy.Corpus.v1", "path": "${paths.train}"} for name in ("train", "dev")
    }
    config["training"]["frozen_components"] = ["elmo", "ner"]
    config["training"]["annotating_components"] = ["elmo"]
    nlp = init_nlp(Config(config))
    assert nlp.get_pipe("elmo").listening_components == ["textcat"]
    # The sourced ner got its own copy of the biLM, and predicts as before.
    assert predictions(nlp)[0] == source_ner
    before = bilm_params(nlp)
    egs = examples(nlp)
    optimizer = nlp.create_optimizer()
    losses = {}
    for _ in range(4):
        nlp.update(egs, sgd=optimizer, losses=losses, exclude=["elmo", "ner"], annotates=["elmo"])
    assert losses["textcat"] > 0
    for a, b in zip(before, bilm_params(nlp)):
        assert torch.equal(a, b)
    assert predictions(nlp)[0] == source_ner
    assert all(set(c) == {"POS", "NEG"} for c in predictions(nlp)[1])


# Clear errors -------------------------------------------------------------------


def test_listener_without_upstream_elmo(weights_dir):
    nlp = make_nlp(weights_dir, pipeline=("ner",))
    with pytest.raises(ValueError, match="found no 'elmo' component to listen to"):
        nlp.initialize(lambda: examples(nlp))


def test_listener_width_mismatch(weights_dir):
    """The error names the config key and the flag a `spacy train` user types."""
    message = "listens to 'elmo' with width = 32.*set width = 16.*--variables.elmo_width 16"
    nlp = make_nlp(weights_dir, width=32)
    with pytest.raises(ValueError, match=message):
        nlp.initialize(lambda: examples(nlp))
    nlp = make_nlp(weights_dir, width=32, weights_in_config=False)  # weights at initialize
    nlp.config["initialize"]["components"]["elmo"] = {"weights": weights_dir}
    with pytest.raises(ValueError, match="set width = 16.*--variables.elmo_width 16"):
        nlp.initialize(lambda: examples(nlp))


def test_no_weights_at_initialize_loads_the_shipped_bilm(weights_dir):
    """Without weights anywhere, initialize loads the shipped biLM (256-wide layers),
    which this 16-wide listener then does not fit."""
    nlp = make_nlp(weights_dir, weights_in_config=False)
    with pytest.raises(ValueError, match="width = 16.*set width = 256"):
        nlp.initialize(lambda: examples(nlp))


def test_frozen_elmo_must_be_annotating(weights_dir, tmp_path, caplog):
    nlp = make_nlp(weights_dir)
    config = nlp.config.copy()
    train = write_corpus([eg.reference for eg in examples(nlp)], tmp_path / "train.spacy")
    config["paths"].update({"train": train, "dev": train})
    config["corpora"] = {
        name: {"@readers": "spacy.Corpus.v1", "path": "${paths.train}"} for name in ("train", "dev")
    }
    config["training"]["frozen_components"] = ["elmo"]
    with caplog.at_level(logging.WARNING, logger="spacy"):
        nlp = init_nlp(Config(config))
    assert "add 'elmo' to the list of 'annotating_components'" in caplog.text
    with pytest.raises(ValueError, match="include it in 'annotating components'"):
        nlp.update(examples(nlp), sgd=nlp.create_optimizer(), exclude=["elmo"])


# Embedded and concatenated ------------------------------------------------------


EMBEDDED = """
[nlp]
lang = "en"
pipeline = ["ner"]

[components]

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
hidden_width = 16
maxout_pieces = 2
use_upper = true

[components.ner.model.tok2vec]
@architectures = "spacy-elmo.ElmoTok2Vec.v1"
width = 16
weights = {weights}
grad_factor = {grad_factor}
layer_norm = true
projection = 8

[components.ner.model.tok2vec.bilm]
@architectures = "spacy-elmo.ElmoBiLM.v2"
cache_mb = 1
"""


@pytest.mark.parametrize("grad_factor", [0.0, 1.0])
def test_embedded_trains_and_loads_without_the_weight_files(weights_dir, tmp_path, grad_factor):
    import shutil

    config = util.load_config_from_str(
        EMBEDDED.format(weights=f'"{weights_dir}"', grad_factor=grad_factor)
    )
    nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.get_pipe("ner").model.get_ref("tok2vec").layers[0].get_dim("nO") == 8
    trained(nlp)
    bilm_node = next(n for n in nlp.get_pipe("ner").model.walk() if n.name == "elmo_bilm")
    original = load_bilm(weights_dir)
    changed = any(
        not torch.equal(a, b)
        for a, b in zip(original.parameters(), get_bilm(bilm_node).parameters())
    )
    assert changed == bool(grad_factor)
    expected = predictions(nlp)[0]
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(weights_dir)
    assert predictions(spacy.load(tmp_path / "pipeline"))[0] == expected


def test_embedded_without_weights_uses_the_shipped_bilm():
    from spacy_elmo import load_bilm

    text = EMBEDDED.format(weights="null", grad_factor=0.0).replace("width = 16", "width = 256")
    nlp = util.load_model_from_config(util.load_config_from_str(text), auto_fill=True)
    nlp.initialize(lambda: examples(nlp))
    bilm_node = next(n for n in nlp.get_pipe("ner").model.walk() if n.name == "elmo_bilm")
    shipped = load_bilm("en-open-3m")
    assert all(
        torch.equal(a, b) for a, b in zip(shipped.parameters(), get_bilm(bilm_node).parameters())
    )


def test_concat_width_is_the_sum(weights_dir):
    nlp = make_nlp(weights_dir)
    concat = nlp.get_pipe("ner").model.get_ref("tok2vec").layers[0]
    assert concat.get_dim("nO") == WIDTH + 8
    doc = nlp.make_doc(TEXTS[0])
    nlp.initialize(lambda: examples(nlp))
    nlp.get_pipe("elmo")(doc)
    (out,) = concat.predict([doc])
    assert out.shape == (len(doc), WIDTH + 8)


def test_bilm_v2_scaler_settings():
    from spacy.util import registry

    build = registry.architectures.get("spacy-elmo.ElmoBiLM.v2")
    # thinc's PyTorchGradScaler has no public accessors for these settings.
    assert not bilm_shim(build(mixed_precision=True)).grad_scaler._enabled  # no GPU here
    scaler = bilm_shim(build(mixed_precision=True, grad_scaler_config={"init_scale": 4.0}))
    assert float(scaler.grad_scaler._scale) == 4.0


# The segment cache --------------------------------------------------------------


def bilm_layer(bilm, cache_mb):
    from spacy.util import registry

    model = registry.architectures.get("spacy-elmo.ElmoBiLM.v2")(cache_mb=cache_mb)
    set_bilm(model, bilm)
    return model


def cache_docs():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    texts = ["The bank raised rates. It rained.", "He sat on the river bank .", "It rained."]
    return [nlp(t) for t in texts]


def test_cache_gives_the_same_layers_and_hits_on_repeats(tiny_bilm):
    plain, cached = bilm_layer(tiny_bilm, 0), bilm_layer(tiny_bilm, 1)
    docs = cache_docs()
    expected = plain.predict(docs)
    first, second = cached.predict(docs), cached.predict(docs)
    for e, a, b in zip(expected, first, second):
        np.testing.assert_array_equal(a, e)
        np.testing.assert_array_equal(b, e)
    cache = get_segment_cache(cached)
    assert get_segment_cache(plain) is None
    assert len(cache) == 3  # "It rained." (in two Docs) is one entry
    assert cache.misses == 4 and cache.hits == 4  # all 4 segments miss, then all hit


def test_cache_is_bounded_and_follows_the_weights(tiny_bilm):
    docs = cache_docs()
    cached = bilm_layer(tiny_bilm, 1e-3)  # 1,048 bytes: 3 layers x 16 floats = 192 a token
    cached.predict(docs)
    cache = get_segment_cache(cached)
    assert len(cache) == 1 and cache.n_bytes == 3 * 192 <= cache.max_bytes  # "It rained."
    # Weights changed in place: the cache empties, the layers follow.
    cached = bilm_layer(tiny_bilm, 1)
    cached.predict(docs)
    with torch.no_grad():
        for p in tiny_bilm.parameters():
            p.mul_(1.5)
    np.testing.assert_array_equal(
        cached.predict(docs)[0], bilm_layer(tiny_bilm, 0).predict(docs)[0]
    )
    # A training pass (weights about to change) empties it too.
    cached.begin_update(docs)
    assert len(get_segment_cache(cached)) == 0


def test_a_copied_layer_gets_its_own_empty_cache(tiny_bilm):
    import copy

    docs = cache_docs()
    cached = bilm_layer(tiny_bilm, 1)
    cached.predict(docs)
    for copied in (cached.copy(), copy.deepcopy(cached)):
        cache = get_segment_cache(copied)
        assert cache is not get_segment_cache(cached) and len(cache) == 0
        assert cache.max_bytes == get_segment_cache(cached).max_bytes
        np.testing.assert_array_equal(copied.predict(docs)[0], cached.predict(docs)[0])
    assert len(get_segment_cache(cached)) == 3
