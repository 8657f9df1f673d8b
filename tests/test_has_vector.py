"""With the vector hooks, only tokens the biLM reads have a vector: an empty Doc or
Span and whitespace tokens report has_vector False and zero vectors, as spaCy does
for tokens without a vector."""

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc

from spacy_elmo import save_weights_files


@pytest.fixture
def nlp(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "bilm")
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": str(tmp_path / "bilm")})
    return nlp


def test_an_empty_doc_has_no_vector(nlp):
    doc = nlp("")
    assert len(doc) == 0
    assert not doc.has_vector and not doc[:].has_vector
    np.testing.assert_array_equal(doc.vector, np.zeros(16, dtype=np.float32))
    assert doc.vector_norm == 0.0


def test_whitespace_tokens_have_no_vector(nlp):
    doc = nlp(Doc(nlp.vocab, words=["Hello", "\n\n", " ", "world"], spaces=[0, 0, 0, 0]))
    assert [t.has_vector for t in doc] == [True, False, False, True]
    np.testing.assert_array_equal(doc[1].vector, np.zeros(16, dtype=np.float32))
    assert doc[1].vector_norm == 0.0
    assert not doc[1:3].has_vector
    np.testing.assert_array_equal(doc[1:3].vector, np.zeros(16, dtype=np.float32))
    assert doc[0:2].has_vector and doc.has_vector
    only_space = nlp(Doc(nlp.vocab, words=["  ", "\n"], spaces=[0, 0]))
    assert not only_space.has_vector
    np.testing.assert_array_equal(only_space.vector, np.zeros(16, dtype=np.float32))
