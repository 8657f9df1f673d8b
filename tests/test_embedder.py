import numpy as np
import torch

from spacy_elmo import ElmoEmbedder

SENTENCES = [[f"w{i * j % 7}" for j in range(1 + i % 9)] for i in range(50)]


def test_embeds_in_input_order_with_bucketing(tiny_bilm):
    embedder = ElmoEmbedder(tiny_bilm, batch_size=4, device="cpu")
    streamed = list(embedder.embed_sentences(iter(SENTENCES), window=3))
    assert len(streamed) == len(SENTENCES)
    for sentence, layers in zip(SENTENCES, streamed):
        assert layers.dtype == np.float32
        assert layers.shape == (3, len(sentence), embedder.output_dim)
        np.testing.assert_allclose(layers, embedder.embed_sentence(sentence), atol=1e-5)


def test_embed_batch_matches_bilm(tiny_bilm):
    threads = torch.get_num_threads()
    embedder = ElmoEmbedder(tiny_bilm, device="cpu", n_threads=1)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(threads)
    batch = SENTENCES[:5]
    with torch.no_grad():
        direct = tiny_bilm.embed_tokens(batch).layers
    for i, layers in enumerate(embedder.embed_batch(batch)):
        np.testing.assert_allclose(layers, direct[:, i, : len(batch[i])].numpy(), atol=1e-6)


def test_stateful_keeps_order(tiny_bilm):
    embedder = ElmoEmbedder(tiny_bilm, batch_size=2, stateful=True, device="cpu")
    assert embedder.bilm.stateful
    out = list(embedder.embed_sentences(SENTENCES[:6]))
    assert [o.shape[1] for o in out] == [len(s) for s in SENTENCES[:6]]
