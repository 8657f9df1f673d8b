"""Parity with the vectors the original implementation computed for the fixture model
(tests/fixtures/elmo, see its README)."""

import json

import h5py
import numpy as np
import pytest
import torch

from spacy_elmo import batch_to_ids, load_weights_files

from .reference import ReferenceBiLM


def load_model(fixtures_dir, **kwargs):
    return load_weights_files(
        fixtures_dir / "options.json", fixtures_dir / "lm_weights.hdf5", **kwargs
    )


def expected_top_layers(fixtures_dir):
    """expected[k][i]: top layer of sentence i of list k, (n_tokens, 32)."""
    result = []
    for k in range(3):
        with h5py.File(fixtures_dir / f"lm_embeddings_{k}.hdf5", "r") as f:
            result.append([np.concatenate(f[str(i)][()], axis=-1) for i in range(10)])
    return result


def batches(fixtures_dir):
    sentences = json.loads((fixtures_dir / "sentences.json").read_text())
    return [[sentences[k][i].split() for k in range(3)] for i in range(10)]


@pytest.mark.parametrize("path", ["tokens", "char_ids"])
@pytest.mark.parametrize("inference", [True, False])
def test_top_layer_matches_original_stateful(fixtures_dir, path, inference):
    """The 30 sentences in 10 batches of 3, state carried from batch to batch."""
    model = load_model(fixtures_dir, stateful=True)
    expected = expected_top_layers(fixtures_dir)
    context = torch.inference_mode() if inference else torch.no_grad()
    n_checked = 0
    with context:
        for i, batch in enumerate(batches(fixtures_dir)):
            if path == "tokens":
                out = model.embed_tokens(batch)
            else:
                out = model(torch.from_numpy(batch_to_ids(batch)))
            assert out.layers.shape[0] == 3
            for k, tokens in enumerate(batch):
                ours = out.layers[-1, k, : len(tokens)].numpy()
                assert ours.shape == expected[k][i].shape
                assert np.allclose(ours, expected[k][i], atol=1e-6), (k, i)
                n_checked += 1
    assert n_checked == 30


def test_plain_reference_matches_original(fixtures_dir):
    """tests/reference.py, which test_bilm.py checks the model against, on the same 30."""
    reference = ReferenceBiLM(fixtures_dir / "options.json", fixtures_dir / "lm_weights.hdf5")
    expected = expected_top_layers(fixtures_dir)
    states = [None, None, None]
    for i, batch in enumerate(batches(fixtures_dir)):
        for k, tokens in enumerate(batch):
            layers, states[k] = reference.embed(tokens, states[k])
            assert np.allclose(layers[-1], expected[k][i], atol=1e-6), (k, i)


def test_stateless_mode_differs_from_stateful_after_first_batch(fixtures_dir):
    """The fixtures need state: without it, batch 0 matches and later ones do not."""
    model = load_model(fixtures_dir)
    expected = expected_top_layers(fixtures_dir)
    all_batches = batches(fixtures_dir)
    with torch.inference_mode():
        first = model.embed_tokens(all_batches[0]).layers[-1, 0, : len(all_batches[0][0])]
        second = model.embed_tokens(all_batches[1]).layers[-1, 0, : len(all_batches[1][0])]
    assert np.allclose(first.numpy(), expected[0][0], atol=1e-6)
    assert not np.allclose(second.numpy(), expected[0][1], atol=1e-6)


def test_reset_states_restarts_the_sequence(fixtures_dir):
    model = load_model(fixtures_dir, stateful=True)
    expected = expected_top_layers(fixtures_dir)
    first = batches(fixtures_dir)[0]
    with torch.inference_mode():
        model.embed_tokens(first)
        model.reset_states()
        out = model.embed_tokens(first)
    assert np.allclose(out.layers[-1, 2, : len(first[2])].numpy(), expected[2][0], atol=1e-6)


@pytest.mark.parametrize("cache_size", [0, 5, 10_000])
def test_token_layer_matches_original(fixtures_dir, cache_size):
    """elmo_token_embeddings.hdf5: the context-free layer of each vocab_test.txt word."""
    model = load_model(fixtures_dir, token_cache_size=cache_size)
    vocab = (fixtures_dir / "vocab_test.txt").read_text(encoding="utf8").split("\n")
    assert len(vocab) == 458
    with h5py.File(fixtures_dir / "elmo_token_embeddings.hdf5", "r") as f:
        expected = f["embedding"][()]
    with torch.inference_mode():
        ours = model.token_vectors(vocab).numpy()
        again = model.token_vectors(vocab[:20]).numpy()  # cache hits when enabled
    assert np.allclose(ours, expected, atol=1e-6)
    np.testing.assert_array_equal(again, ours[:20])
    # Layer 0 of the full model is the token layer, twice, in context.
    with torch.inference_mode():
        layer0 = model.embed_tokens([vocab[:7]]).layers[0, 0]
    assert np.allclose(layer0[:, :16].numpy(), expected[:7], atol=1e-6)
    np.testing.assert_array_equal(layer0[:, :16].numpy(), layer0[:, 16:].numpy())


def test_vocabulary_table_is_exact_and_skips_the_char_cnn(fixtures_dir):
    """AllenNLP's vocab_to_cache: known words skip the char CNN, same vectors."""
    model = load_model(fixtures_dir, token_cache_size=0)
    vocab = (fixtures_dir / "vocab_test.txt").read_text(encoding="utf8").split("\n")
    with h5py.File(fixtures_dir / "elmo_token_embeddings.hdf5", "r") as f:
        expected = f["embedding"][()]
    model.set_vocabulary(vocab)
    encoded = []
    model.char_encoder.register_forward_hook(lambda m, args, out: encoded.append(len(out)))
    with torch.inference_mode():
        model.token_vectors(["warm"])  # builds the table (458 words) + 1 unknown
        encoded.clear()
        ours = model.token_vectors(vocab[:100] + ["unseen-word"] + vocab[100:]).numpy()
    assert encoded == [1]  # only the unknown word went through the char CNN
    assert np.allclose(np.delete(ours, 100, axis=0), expected, atol=1e-6)
    with torch.no_grad():
        model.char_encoder.char_embed.add_(0.01)  # new weights: the table is rebuilt
    with torch.inference_mode():
        changed = model.token_vectors(vocab[:5]).numpy()
    assert not np.allclose(changed, expected[:5], atol=1e-4)
    # Sentences through the vocabulary path equal the plain path.
    with torch.inference_mode():
        sentences = batches(fixtures_dir)[0]
        with_vocab = model.embed_tokens(sentences).layers
        model.set_vocabulary(None)
        without = model.embed_tokens(sentences).layers
    np.testing.assert_allclose(with_vocab.numpy(), without.numpy(), atol=1e-6)
