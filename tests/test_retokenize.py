"""A Doc retokenized after `elmo` never gives a token another token's vector: every
access to its ELMo data fails with one line saying to retokenize before `elmo`."""

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_elmo import ElmoDocData, ElmoEmbedder, save_weights_files, set_vector_hooks
from spacy_elmo.pipeline.doc_data import MSGPACK_KEY
from spacy_elmo.pipeline.extensions import LAYERS_EXTENSION

RETOKENIZED = "retokenized after 'elmo'"


@pytest.fixture
def weights_dir(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "bilm")
    return str(tmp_path / "bilm")


@pytest.fixture
def nlp(weights_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": weights_dir})
    return nlp


def every_access(doc: Doc, i: int):
    """Each way of reading a token's, a span's or the Doc's ELMo vector."""
    return [
        lambda: doc._.elmo,
        lambda: doc[i]._.elmo,
        lambda: doc[i].vector,
        lambda: doc[i].has_vector,
        lambda: doc[i].vector_norm,
        lambda: doc[i].similarity(doc[0]),
        lambda: doc[0 : i + 1]._.elmo,
        lambda: doc[0 : i + 1].vector,
        lambda: doc.vector,
        lambda: doc.has_vector,
        lambda: doc.similarity(doc),
    ]


def assert_refused(doc: Doc, i: int) -> None:
    for access in every_access(doc, i):
        with pytest.raises(ValueError, match=RETOKENIZED) as error:
            access()
        assert "\n" not in str(error.value) and "merge_entities" in str(error.value)


def test_merge_after_elmo_is_refused(nlp):
    doc = nlp("New York is big.")
    with doc.retokenize() as retokenizer:
        retokenizer.merge(doc[0:2])
    assert [t.text for t in doc] == ["New York", "is", "big", "."]
    for i in range(len(doc)):
        assert_refused(doc, i)


def test_split_after_elmo_is_refused_not_an_index_error(nlp):
    doc = nlp("New York is big.")
    with doc.retokenize() as retokenizer:
        retokenizer.split(doc[0], ["Ne", "w"], heads=[(doc[0], 1), doc[1]])
    assert len(doc) == 6
    for i in (1, 5):
        assert_refused(doc, i)


def test_merge_and_split_that_keep_the_token_count_are_refused(nlp):
    doc = nlp("New York is big.")
    with doc.retokenize() as retokenizer:
        retokenizer.merge(doc[0:2])
        retokenizer.split(doc[3], ["bi", "g"], heads=[(doc[3], 1), doc[2]])
    assert [t.text for t in doc] == ["New York", "is", "bi", "g", "."]
    assert_refused(doc, 0)
    assert_refused(doc, 2)


def test_merge_entities_and_noun_chunks_after_elmo_are_refused(nlp, weights_dir):
    nlp.add_pipe("merge_entities")
    doc = nlp.make_doc("Ada Lovelace met Charles Babbage .")
    doc.ents = [doc.char_span(0, 12, label="PERSON"), doc.char_span(17, 32, label="PERSON")]
    doc = nlp(doc)
    assert len(doc) == 4
    assert_refused(doc, 2)

    chunks = spacy.blank("en")
    chunks.add_pipe("elmo", config={"weights": weights_dir})
    chunks.add_pipe("merge_noun_chunks")
    words = ["The", "old", "bank", "raised", "the", "rates", "."]
    parsed = Doc(
        chunks.vocab,
        words=words,
        heads=[2, 2, 3, 3, 5, 3, 3],
        deps=["det", "amod", "nsubj", "ROOT", "det", "dobj", "punct"],
        pos=["DET", "ADJ", "NOUN", "VERB", "DET", "NOUN", "PUNCT"],
    )
    doc = chunks(parsed)
    assert [t.text for t in doc] == ["The old bank", "raised", "the rates", "."]
    assert_refused(doc, 1)


def test_retokenizing_before_elmo_gives_the_merged_tokens_vectors(nlp, weights_dir):
    nlp.add_pipe("merge_entities", before="elmo")
    doc = nlp.make_doc("Ada Lovelace met Charles Babbage .")
    doc.ents = [doc.char_span(0, 12, label="PERSON"), doc.char_span(17, 32, label="PERSON")]
    doc = nlp(doc)
    words = ["Ada Lovelace", "met", "Charles Babbage", "."]
    assert [t.text for t in doc] == words
    expected = ElmoEmbedder(weights_dir, device="cpu").embed_sentence(words).mean(axis=0)
    for i in range(len(doc)):
        np.testing.assert_allclose(doc[i].vector, expected[i], atol=1e-6)


def test_the_listeners_layers_are_refused_after_retokenizing(nlp):
    doc = nlp("New York is big.")
    layers = np.ones((3, len(doc), 16), dtype=np.float32)
    doc._.set(LAYERS_EXTENSION, layers)
    assert doc._.get(LAYERS_EXTENSION) is layers
    with doc.retokenize() as retokenizer:
        retokenizer.merge(doc[0:2])
    with pytest.raises(ValueError, match=RETOKENIZED):
        doc._.get(LAYERS_EXTENSION)


def test_data_of_another_length_cannot_be_set(nlp):
    doc = nlp("New York is big.")
    other = nlp("Short.")
    with pytest.raises(ValueError, match="2 tokens, the Doc has 5"):
        doc._.elmo = other._.elmo
    with pytest.raises(ValueError, match="2 tokens, the Doc has 5"):
        doc._.set(LAYERS_EXTENSION, np.zeros((3, 2, 16), dtype=np.float32))


@pytest.mark.filterwarnings("ignore:\\[W109\\]")
def test_the_check_survives_docbin_and_to_bytes(nlp):
    docs = list(nlp.pipe(["New York is big.", "Paris too."]))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin().from_bytes(data).get_docs(nlp.vocab))
    copied = [Doc(nlp.vocab).from_bytes(doc.to_bytes()) for doc in docs]
    for doc, back, copy in zip(docs, restored, copied):
        np.testing.assert_array_equal(back._.elmo.layers, doc._.elmo.layers)
        np.testing.assert_array_equal(copy._.elmo.layers, doc._.elmo.layers)
    set_vector_hooks(restored[0])
    np.testing.assert_array_equal(restored[0][2].vector, docs[0][2].vector)
    with restored[0].retokenize() as retokenizer:
        retokenizer.merge(restored[0][0:2])
    assert_refused(restored[0], 2)


def test_data_saved_without_offsets_is_checked_by_length(nlp):
    doc = nlp("New York is big.")
    old = {MSGPACK_KEY: True, "layers": doc._.elmo.layers, "names": doc._.elmo.names}
    data = ElmoDocData.from_dict(old)
    doc.user_data[("._.", "elmo", None, None)] = data
    np.testing.assert_array_equal(doc[1]._.elmo, data.vectors[1])
    with doc.retokenize() as retokenizer:
        retokenizer.merge(doc[0:2])
    with pytest.raises(ValueError, match=RETOKENIZED):
        doc[1]._.elmo  # noqa: B018


def test_the_listeners_layers_survive_docbin(nlp):
    doc = nlp("New York is big.")
    layers = np.arange(3 * len(doc) * 2, dtype=np.float32).reshape(3, len(doc), 2)
    doc._.set(LAYERS_EXTENSION, layers)
    data = DocBin(docs=[doc], store_user_data=True).to_bytes()
    back = next(DocBin().from_bytes(data).get_docs(nlp.vocab))
    np.testing.assert_array_equal(back._.get(LAYERS_EXTENSION), layers)
