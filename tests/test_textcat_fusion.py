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
