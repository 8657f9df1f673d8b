"""A token whose text is a biLM's boundary string ("<S>", "</S>"; "<bos>", "<eos>" for
ELMoForManyLangs) gets the vectors the original gives it, and never changes the
vectors of other sentences: no cache shares an entry between it and the real boundary."""

import numpy as np
import pytest
import torch

from spacy_elmo import ElmoBiLM, ElmoEmbedder, batch_to_ids, load_bilm
from spacy_elmo.bilm.token_cache import TokenCache

from .test_manylangs import reference_layers, write_reference_model

PLAIN = ["The", "bank", "raised", "rates", "."]


def layers_of(bilm: ElmoBiLM, sentences):
    with torch.inference_mode():
        out = bilm.embed_tokens(sentences)
    return [out.layers[:, i, : len(s)].numpy() for i, s in enumerate(sentences)]


@pytest.fixture
def manylangs_dir(tmp_path, monkeypatch):
    return write_reference_model(tmp_path / "zh-model", monkeypatch)


@pytest.mark.parametrize("literal", [["<S>"], ["</S>"], ["<S>", "</S>"]])
def test_bilm_tf_literal_boundary_does_not_poison_later_sentences(tiny_bilm, literal):
    alone = layers_of(tiny_bilm, [PLAIN])[0]
    fresh = ElmoBiLM(tiny_bilm.options)
    fresh.load_state_dict(tiny_bilm.state_dict())
    fresh.eval()
    layers_of(fresh, [["The", *literal, "token"]])
    after = layers_of(fresh, [PLAIN])[0]
    np.testing.assert_allclose(after, alone, atol=1e-6, rtol=0)


def test_bilm_tf_literal_boundary_gets_the_boundary_characters(tiny_bilm):
    # AllenNLP (and bilm-tf through its vocabulary file) read a literal "<S>" / "</S>"
    # as the sentence-start / sentence-end characters: the same as char ids input.
    sentence = ["The", "<S>", "token", "</S>", "<S>"]
    by_strings = layers_of(tiny_bilm, [sentence])[0]
    with torch.inference_mode():
        by_ids = tiny_bilm(torch.from_numpy(batch_to_ids([sentence]))).layers[:, 0].numpy()
        boundary = tiny_bilm.char_encoder(tiny_bilm.boundary_ids).numpy()
    np.testing.assert_allclose(by_strings, by_ids, atol=1e-6, rtol=0)
    for position, row in ((1, 0), (3, 1), (4, 0)):
        np.testing.assert_allclose(by_strings[0, position, :8], boundary[row], atol=1e-6, rtol=0)


def test_embedder_literal_boundary_does_not_poison_later_sentences(tiny_bilm):
    alone = ElmoEmbedder(tiny_bilm, device="cpu").embed_sentence(PLAIN)
    fresh = ElmoBiLM(tiny_bilm.options)
    fresh.load_state_dict(tiny_bilm.state_dict())
    embedder = ElmoEmbedder(fresh, device="cpu", batch_size=1)
    results = list(embedder.embed_sentences([["The", "<S>", "token", "</S>"], PLAIN]))
    np.testing.assert_allclose(results[1], alone, atol=1e-6, rtol=0)


def test_embedder_with_vocabulary_holding_boundaries(tiny_bilm):
    alone = ElmoEmbedder(tiny_bilm, device="cpu").embed_sentence(PLAIN)
    embedder = ElmoEmbedder(tiny_bilm, device="cpu", vocabulary=["<S>", "The", "</S>"])
    embedder.embed_sentence(["The", "</S>", "<S>", "token"])
    np.testing.assert_allclose(embedder.embed_sentence(PLAIN), alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize("literal", [["<bos>"], ["<eos>"], ["<bos>", "<eos>"]])
def test_manylangs_literal_boundary_does_not_poison_later_sentences(manylangs_dir, literal):
    plain = ["the", "bank", "."]
    alone = layers_of(load_bilm(manylangs_dir), [plain])[0]
    bilm = load_bilm(manylangs_dir)
    layers_of(bilm, [["the", *literal, "river"]])
    np.testing.assert_allclose(layers_of(bilm, [plain])[0], alone, atol=1e-6, rtol=0)


def test_manylangs_literal_boundary_equals_their_package(manylangs_dir):
    # Their package reads a literal "<bos>" with the boundary's word and character ids.
    sentence = ["the", "<bos>", "bank", "<eos>", "."]
    bilm = load_bilm(manylangs_dir)
    ours = layers_of(bilm, [PLAIN[:1], sentence])[1]
    theirs = reference_layers(manylangs_dir, [sentence], -2)[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)


def test_token_cache_with_repeated_strings_keeps_each_vector():
    cache = TokenCache(8)

    def compute(strings):
        return torch.tensor([[float(len(s)), float(ord(s[0]))] for s in strings])

    out = cache.lookup(["a", "bb", "a", "ccc", "bb"], compute, 0)
    np.testing.assert_array_equal(out.numpy(), compute(["a", "bb", "a", "ccc", "bb"]).numpy())
    again = cache.lookup(["ccc", "dddd", "a"], compute, 0)
    np.testing.assert_array_equal(again.numpy(), compute(["ccc", "dddd", "a"]).numpy())
    assert len(cache) == 4
