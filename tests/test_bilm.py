import numpy as np
import pytest
import torch

from spacy_elmo import ElmoBiLM, batch_to_ids, save_weights_files

from .reference import ReferenceBiLM
from .util import tiny_options

SENTENCES = [
    ["The", "bank", "raised", "rates", "."],
    ["He", "sat", "on", "the", "river", "bank", "and", "watched", "the", "water", "."],
    ["Hi"],
    ["naïve", "😀", "", " ", "\x00", "\ud800", "x" * 10_000, "<S>"],
]


def randomize(model: ElmoBiLM, seed: int = 0) -> ElmoBiLM:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
        model.char_encoder.char_embed[0].zero_()
    return model.eval()


def embed(model, sentences):
    with torch.inference_mode():
        out = model.embed_tokens(sentences)
    return [out.layers[:, i, : len(s)].numpy() for i, s in enumerate(sentences)]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"n_layers": 1},
        {"n_layers": 3},
        {"activation": "tanh", "n_highway": 2},
        {"use_skip_connections": False, "cell_clip": None, "proj_clip": None},
        {"dim": 8, "projection_dim": 8},  # no LSTM projection (bilm-tf omits W_P_0)
        {"filters": [[1, 4], [2, 4]], "projection_dim": 8, "n_highway": 0},  # no CNN_proj
    ],
)
def test_matches_plain_reference_for_any_options(tmp_path, overrides):
    model = randomize(ElmoBiLM(tiny_options(**overrides)))
    options_path, weights_path = save_weights_files(model, tmp_path)
    reference = ReferenceBiLM(options_path, weights_path)
    ours = embed(model, SENTENCES)
    for sentence, layers in zip(SENTENCES, ours):
        expected, _ = reference.embed(sentence)
        assert layers.shape == expected.shape == (model.n_output_layers, len(sentence), 16)
        np.testing.assert_allclose(layers, expected, atol=2e-5, rtol=1e-4)


def test_stateless_sentence_alone_equals_inside_padded_batch(tiny_bilm):
    target = SENTENCES[0]
    alone = embed(tiny_bilm, [target])[0]
    batch = [SENTENCES[1], ["a"], target, SENTENCES[3], [], ["b", "c"]]
    inside = embed(tiny_bilm, batch)[2]
    np.testing.assert_allclose(inside, alone, atol=1e-5, rtol=0)
    # And after other batches went through the model: no hidden state.
    embed(tiny_bilm, [SENTENCES[1]] * 3)
    np.testing.assert_allclose(embed(tiny_bilm, [target])[0], alone, atol=1e-5, rtol=0)


def test_char_ids_input_equals_token_input(tiny_bilm):
    by_tokens = embed(tiny_bilm, SENTENCES)
    with torch.inference_mode():
        out = tiny_bilm(torch.from_numpy(batch_to_ids(SENTENCES)))
    for i, sentence in enumerate(SENTENCES):
        np.testing.assert_allclose(
            out.layers[:, i, : len(sentence)].numpy(), by_tokens[i], atol=1e-6, rtol=0
        )
    assert out.mask.tolist()[2] == [True] + [False] * 10


def test_padding_positions_are_zero_and_masked(tiny_bilm):
    with torch.inference_mode():
        out = tiny_bilm.embed_tokens([["a", "b", "c"], ["d"], []])
    assert out.layers.shape == (3, 3, 3, 16)
    assert out.mask.tolist() == [[True] * 3, [True, False, False], [False] * 3]
    assert (out.layers[:, 1, 1:] == 0).all() and (out.layers[:, 2] == 0).all()


def test_empty_inputs(tiny_bilm):
    with torch.inference_mode():
        assert tiny_bilm.embed_tokens([]).layers.shape == (3, 0, 0, 16)
        assert tiny_bilm.embed_tokens([[], []]).layers.shape == (3, 2, 0, 16)


def test_char_ids_must_be_left_aligned(tiny_bilm):
    ids = torch.from_numpy(batch_to_ids([["a", "b"]]))
    ids[0, 0] = 0
    with pytest.raises(ValueError, match="padding between tokens"):
        tiny_bilm(ids)
    with pytest.raises(ValueError, match="must have shape"):
        tiny_bilm(ids[0])


def test_stateful_rows_carry_their_own_state(tmp_path, tiny_bilm):
    a = [["w1", "w2", "w3"], ["x1"], ["y1", "y2"]]
    b = [["p", "q"], ["r"]]
    c = [["s", "t"], ["u", "v", "w"], ["z", "z", "z", "z"]]
    options_path, weights_path = save_weights_files(tiny_bilm, tmp_path)
    reference = ReferenceBiLM(options_path, weights_path)

    def ref_state(sentence, state=None):
        layers, final = reference.embed(sentence, state)
        return layers, [final[0], final[1]]

    tiny_bilm.stateful = True
    out_a, out_b, out_c = (embed(tiny_bilm, batch) for batch in (a, b, c))
    states = [ref_state(s)[1] for s in a]
    for i, s in enumerate(b):  # A smaller batch updates only its rows...
        layers, states[i] = ref_state(s, states[i])
        np.testing.assert_allclose(out_b[i], layers, atol=2e-5)
    for i, s in enumerate(c):  # ...row 2 keeps its state from batch a.
        layers, _ = ref_state(s, states[i])
        np.testing.assert_allclose(out_c[i], layers, atol=2e-5)
    # A larger batch: the new rows start from zero state.
    tiny_bilm.reset_states()
    embed(tiny_bilm, a[:1])
    grown = embed(tiny_bilm, c)
    tiny_bilm.stateful = False
    np.testing.assert_allclose(grown[2], embed(tiny_bilm, [c[2]])[0], atol=1e-5)
    assert not np.allclose(grown[0], embed(tiny_bilm, [c[0]])[0], atol=1e-5)


def test_stateful_empty_sentence_keeps_its_rows_state(tiny_bilm):
    tiny_bilm.stateful = True
    first = [["a", "b"], ["c", "d", "e"]]
    embed(tiny_bilm, first)
    embed(tiny_bilm, [[], ["x"]])
    after_empty = embed(tiny_bilm, [["f", "g"], ["h"]])
    tiny_bilm.reset_states()
    embed(tiny_bilm, first)
    direct = embed(tiny_bilm, [["f", "g"], ["h"]])
    np.testing.assert_allclose(after_empty[0], direct[0], atol=1e-6)
    assert not np.allclose(after_empty[1], direct[1], atol=1e-5)


def test_training_gets_gradients_and_no_inference_tensors(tiny_bilm):
    tiny_bilm.train()
    with torch.inference_mode():  # fills the token cache with inference tensors
        tiny_bilm.embed_tokens(SENTENCES)
    out = tiny_bilm.embed_tokens(SENTENCES)
    assert not out.layers.is_inference() and out.layers.requires_grad
    out.layers.pow(2).sum().backward()
    for name, p in tiny_bilm.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_token_cache_is_bounded_and_follows_weight_changes(tiny_bilm):
    tiny_bilm.token_cache.capacity = 4
    with torch.inference_mode():
        first = tiny_bilm.token_vectors(["a", "b", "c"])
        tiny_bilm.token_vectors(["d", "e"])  # evicts "a"
        assert len(tiny_bilm.token_cache) == 4
        hits = tiny_bilm.token_cache.hits
        again = tiny_bilm.token_vectors(["b", "c"])
        assert tiny_bilm.token_cache.hits == hits + 2
        np.testing.assert_array_equal(again.numpy(), first[1:].numpy())
        many = tiny_bilm.token_vectors([str(i) for i in range(10)])  # over capacity: bypass
        assert many.shape == (10, 8)
    with torch.no_grad():
        tiny_bilm.char_encoder.char_embed.add_(0.1)
    with torch.inference_mode():
        changed = tiny_bilm.token_vectors(["b", "c"])
    with torch.no_grad():
        fresh = tiny_bilm.token_vectors(["b", "c"])
    np.testing.assert_array_equal(changed.numpy(), fresh.numpy())
    assert not np.allclose(changed.numpy(), again.numpy())


@pytest.mark.parametrize("block_rows", [1, 5, 7])
def test_gate_blocks_do_not_change_results(tiny_bilm, block_rows):
    expected = embed(tiny_bilm, SENTENCES)
    tiny_bilm.lstm.gate_block_rows = block_rows
    for ours, theirs in zip(embed(tiny_bilm, SENTENCES), expected):
        np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)
