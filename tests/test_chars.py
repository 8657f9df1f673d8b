import numpy as np
import pytest

from spacy_elmo.bilm.chars import (
    BOS_CHAR,
    BOW_CHAR,
    EOS_CHAR,
    EOW_CHAR,
    PAD_CHAR,
    batch_to_ids,
    encode_unique,
    token_to_ids,
    unique_tokens,
)


def expected(data: bytes, max_chars: int = 50) -> np.ndarray:
    ids = [BOW_CHAR] + list(data[: max_chars - 2]) + [EOW_CHAR]
    ids += [PAD_CHAR] * (max_chars - len(ids))
    return np.array(ids) + 1


@pytest.mark.parametrize(
    "token",
    [
        "bank",
        "",
        " ",
        "\t\n",
        "\x00",
        "a\x00b\x07\x1b",
        "naïve",
        "日本語",
        "😀",
        "a😀b",
        "x" * 48,
        "x" * 49,
        "y" * 10_000,
        "é" * 30,
        "🎉" * 13,
    ],
)
def test_token_ids_are_utf8_bytes_cut_at_48(token):
    ids = token_to_ids(token)
    assert ids.shape == (50,)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, expected(token.encode("utf-8")))
    assert ids.min() >= 1 and ids.max() <= 261


def test_cut_may_split_a_multibyte_character():
    ids = token_to_ids("é" * 30)  # 60 bytes: the 48-byte cut falls between characters
    assert (ids[1:49] - 1).tolist() == list(("é" * 30).encode()[:48])
    assert ids[49] == EOW_CHAR + 1


def test_lone_surrogates_are_dropped():
    np.testing.assert_array_equal(token_to_ids("a\ud800b"), expected(b"ab"))
    np.testing.assert_array_equal(token_to_ids("\udfff"), expected(b""))
    # Dropped characters must not shorten a long token's kept bytes.
    token = "\ud800" * 60 + "z" * 60
    np.testing.assert_array_equal(token_to_ids(token), expected(b"z" * 48))


def test_empty_string_is_bow_eow():
    ids = token_to_ids("")
    assert ids[:3].tolist() == [BOW_CHAR + 1, EOW_CHAR + 1, PAD_CHAR + 1]


def test_sentence_boundary_literals_match_allennlp():
    assert token_to_ids("<S>")[:4].tolist() == [
        BOW_CHAR + 1,
        BOS_CHAR + 1,
        EOW_CHAR + 1,
        PAD_CHAR + 1,
    ]
    assert token_to_ids("</S>")[1] == EOS_CHAR + 1


def test_other_max_chars():
    ids = token_to_ids("abcdefgh", max_chars=6)
    assert ids.tolist() == [BOW_CHAR + 1, 98, 99, 100, 101, EOW_CHAR + 1]
    with pytest.raises(ValueError, match="at least 3"):
        token_to_ids("a", max_chars=2)


def test_batch_to_ids_pads_with_zeros():
    ids = batch_to_ids([["a", "b", "c"], ["b"], []])
    assert ids.shape == (3, 3, 50)
    np.testing.assert_array_equal(ids[1, 0], token_to_ids("b"))
    np.testing.assert_array_equal(ids[0, 1], ids[1, 0])
    assert (ids[1, 1:] == 0).all() and (ids[2] == 0).all()
    assert batch_to_ids([]).shape == (0, 0, 50)


def test_encode_unique_encodes_each_string_once():
    ids, index = encode_unique([["the", "cat", "the"], ["cat", "sat"]])
    assert ids.shape == (3, 50)
    assert index.tolist() == [[1, 2, 1], [2, 3, 0]]
    np.testing.assert_array_equal(ids[2], token_to_ids("sat"))


def test_unique_tokens_rejects_strings_and_non_strings():
    with pytest.raises(TypeError, match="Sentence 0 is a str"):
        unique_tokens(["a sentence"])
    with pytest.raises(TypeError, match="Token 1 of sentence 0 is int"):
        unique_tokens([["a", 3]])
