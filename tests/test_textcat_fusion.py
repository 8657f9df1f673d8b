"""spacy-elmo.TextCatFusion.v1: each model trains on its own loss, only the
predictions are mixed."""

import numpy as np
import pytest
import spacy
from thinc.api import Model

from spacy_elmo.pipeline.textcat_fusion import TextCatFusion


def fixed(probs, received):
    """A model that predicts `probs` and records the gradient it is sent."""

    def forward(model, docs, is_train):
        def backprop(d):
            received.append(d.copy())
            return docs

        return np.asarray(probs, dtype="f"), backprop

    return Model("fixed", forward, dims={"nO": None})


@pytest.mark.parametrize("weight", [0.0, 0.15, 1.0])
def test_each_model_gets_the_gradient_of_its_own_loss(weight):
    p_linear, p_neural = [[0.9, 0.1], [0.4, 0.6]], [[0.2, 0.8], [0.3, 0.7]]
    truth = np.asarray([[1.0, 0.0], [0.0, 1.0]], dtype="f")
    got_linear, got_neural = [], []
    model = TextCatFusion(fixed(p_linear, got_linear), fixed(p_neural, got_neural), weight)
    docs = [spacy.blank("en")("a"), spacy.blank("en")("b")]
    p, backprop = model.begin_update(docs)
    expected = (1 - weight) * np.asarray(p_linear) + weight * np.asarray(p_neural)
    np.testing.assert_allclose(p, expected, rtol=1e-6)
    backprop(p - truth)  # spaCy's textcat loss gradient: scores - truths
    np.testing.assert_allclose(got_linear[0], np.asarray(p_linear) - truth, atol=1e-6)
    np.testing.assert_allclose(got_neural[0], np.asarray(p_neural) - truth, atol=1e-6)


def test_the_linear_model_trains_as_it_does_alone():
    """A bag of words inside the fusion ends a few updates with the same weights as the
    same bag of words trained alone on the same batches."""
    from spacy.training import Example

    def make(config_model):
        nlp = spacy.blank("en")
        nlp.add_pipe("textcat", config={"model": config_model})
        return nlp

    bow = {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": True,
        "ngram_size": 2,
        "no_output_layer": False,
        "length": 4096,
    }
    other = {**bow, "ngram_size": 1}
    fused = {
        "@architectures": "spacy-elmo.TextCatFusion.v1",
        "neural_weight": 0.5,
        "linear_model": bow,
        "neural_model": other,
    }
    texts = [("good fun film", "POS"), ("bad dull film", "NEG"), ("fun", "POS"), ("dull", "NEG")]
    results = []
    for config_model in (bow, fused):
        nlp = make(config_model)
        examples = [
            Example.from_dict(nlp.make_doc(t), {"cats": {"POS": y == "POS", "NEG": y == "NEG"}})
            for t, y in texts
        ]
        optimizer = nlp.initialize(lambda egs=examples: egs)
        for _ in range(5):
            nlp.update(examples, sgd=optimizer, drop=0.0)
        model = nlp.get_pipe("textcat").model
        linear = model if config_model is bow else model.layers[0]
        results.append(
            [node.get_param(n).copy() for node in linear.walk() for n in node.param_names]
        )
    alone, fused_params = results
    assert alone and any(np.abs(a).sum() > 0 for a in alone)  # it learned something
    for a, b in zip(alone, fused_params):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_weight_out_of_range():
    with pytest.raises(ValueError, match=r"neural_weight must be in \[0, 1\]"):
        TextCatFusion(fixed([[1.0]], []), fixed([[1.0]], []), 1.5)


def by_text(rows):
    """A model that predicts a fixed probability row per Doc text."""

    def forward(model, docs, is_train):
        return np.asarray([rows[doc.text] for doc in docs], dtype="f"), lambda d: docs

    return Model("by-text", forward, dims={"nO": None})


def fusion_pipeline():
    """A blank pipeline whose textcat is a TextCatFusion of two bags of words."""
    bow = {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": True,
        "ngram_size": 1,
        "no_output_layer": False,
        "length": 4096,
    }
    fused = {
        "@architectures": "spacy-elmo.TextCatFusion.v1",
        "neural_weight": 0.15,
        "linear_model": bow,
        "neural_model": {**bow, "ngram_size": 2},
    }
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat", config={"model": fused})
    for label in ("POS", "NEG"):
        textcat.add_label(label)
    nlp.initialize()
    return nlp


def gold(nlp, labels):
    from spacy.training import Example

    return [
        Example.from_dict(nlp.make_doc(text), {"cats": {"POS": y == "POS", "NEG": y == "NEG"}})
        for text, y in labels.items()
    ]


LABELS = {"a": "POS", "b": "NEG", "c": "POS", "d": "NEG"}
# The bag of words is right on a and d and leans the wrong way on b and c; the neural
# model is right on all four. From a weight of 1/9 up, the mix is right on all four.
LINEAR = {"a": [0.6, 0.4], "b": [0.55, 0.45], "c": [0.45, 0.55], "d": [0.3, 0.7]}
NEURAL = {"a": [0.9, 0.1], "b": [0.1, 0.9], "c": [0.9, 0.1], "d": [0.2, 0.8]}


def test_the_smallest_weight_that_scores_best_on_dev_is_chosen_and_set():
    from spacy_elmo.pipeline.textcat_fusion import choose_neural_weight

    nlp = fusion_pipeline()
    model = nlp.get_pipe("textcat").model
    model.layers[0], model.layers[1] = by_text(LINEAR), by_text(NEURAL)
    weight, scores = choose_neural_weight(nlp, gold(nlp, LABELS))
    assert scores[0.0] == 0.5 and scores[0.1] == 0.5  # b and c still wrong below 1/9
    assert scores[0.15] == scores[1.0] == 1.0
    assert weight == 0.15 and model.attrs["neural_weight"] == 0.15
    doc = nlp("b")
    assert doc.cats["NEG"] > doc.cats["POS"]  # the pipeline now predicts with 0.15


def test_a_neural_model_that_adds_nothing_gets_weight_zero():
    from spacy_elmo.pipeline.textcat_fusion import choose_neural_weight

    nlp = fusion_pipeline()
    model = nlp.get_pipe("textcat").model
    model.layers[0], model.layers[1] = by_text(LINEAR), by_text(LINEAR)
    weight, scores = choose_neural_weight(nlp, gold(nlp, LABELS))
    assert len(set(scores.values())) == 1
    assert weight == 0.0 and model.attrs["neural_weight"] == 0.0


def test_the_chosen_weight_is_saved_with_the_pipeline(tmp_path):
    nlp = fusion_pipeline()
    nlp.get_pipe("textcat").model.attrs["neural_weight"] = 0.35
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.get_pipe("textcat").model.attrs["neural_weight"] == 0.35


def test_the_callback_reads_dev_data_and_sets_the_weight(tmp_path):
    from spacy.tokens import DocBin
    from spacy.util import registry

    nlp = fusion_pipeline()
    model = nlp.get_pipe("textcat").model
    model.layers[0], model.layers[1] = by_text(LINEAR), by_text(NEURAL)
    DocBin(docs=[eg.reference for eg in gold(nlp, LABELS)]).to_disk(tmp_path / "dev.spacy")
    make = registry.callbacks.get("spacy-elmo.choose_fusion_weight.v1")
    assert make(tmp_path / "dev.spacy", weights=[0.0, 0.5, 1.0])(nlp) is nlp
    assert model.attrs["neural_weight"] == 0.5


def test_the_callback_names_what_is_wrong(tmp_path):
    from spacy_elmo.pipeline.callbacks import choose_fusion_weight_v1
    from spacy_elmo.pipeline.config_errors import ElmoConfigError
    from spacy_elmo.pipeline.textcat_fusion import choose_neural_weight

    with pytest.raises(ElmoConfigError, match=r"no dev data at .*missing.spacy \(set --paths"):
        choose_fusion_weight_v1(tmp_path / "missing.spacy")
    with pytest.raises(ElmoConfigError, match=r"no dev data at None \(set --paths.dev\)"):
        choose_fusion_weight_v1(None)
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat")

    with pytest.raises(ElmoConfigError, match="not spacy-elmo.TextCatFusion.v1"):
        choose_neural_weight(nlp, gold(nlp, LABELS))
    with pytest.raises(ElmoConfigError, match="No component 'topic'"):
        choose_neural_weight(nlp, gold(nlp, LABELS), component="topic")
    with pytest.raises(ElmoConfigError, match=r"must be in \[0, 1\]"):
        choose_neural_weight(fusion_pipeline(), gold(nlp, LABELS), weights=[0.5, 2.0])
