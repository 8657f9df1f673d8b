"""Token strings to ELMo character ids (docs/how-it-works.md, section 1)."""

from typing import Dict, List, Sequence, Tuple

import numpy as np

MAX_CHARACTERS_PER_TOKEN = 50
# Specials, before the +1 offset that reserves id 0 for batch padding.
BOS_CHAR = 256
EOS_CHAR = 257
BOW_CHAR = 258
EOW_CHAR = 259
PAD_CHAR = 260
N_CHARACTERS = 262  # 256 bytes + 5 specials + the padding row 0
BOS_TOKEN = "<S>"
EOS_TOKEN = "</S>"


def _special(char: int, max_chars: int) -> np.ndarray:
    ids = np.full(max_chars, PAD_CHAR + 1, dtype=np.int64)
    ids[:3] = (BOW_CHAR + 1, char + 1, EOW_CHAR + 1)
    return ids


def token_to_ids(token: str, max_chars: int = MAX_CHARACTERS_PER_TOKEN) -> np.ndarray:
    """Encode one token string as character ids (offset by +1, so 0 means padding).

    The UTF-8 bytes are cut to `max_chars - 2`, which may split a multi-byte character;
    characters UTF-8 cannot encode (lone surrogates) are dropped. The literal tokens
    "<S>" and "</S>" map to the sentence-start and sentence-end ids, as in AllenNLP.

    token (str): The token text. Any Python string is accepted.
    max_chars (int): Ids per token (`max_characters_per_token` in options.json).
    RETURNS (numpy.ndarray): int64 array of shape (max_chars,).
    """
    if max_chars < 3:
        raise ValueError(f"max_characters_per_token must be at least 3, got {max_chars}")
    if token == BOS_TOKEN:
        return _special(BOS_CHAR, max_chars)
    if token == EOS_TOKEN:
        return _special(EOS_CHAR, max_chars)
    n_bytes = max_chars - 2
    # Each character is at least one byte: encoding a prefix is enough unless
    # dropped characters (lone surrogates) leave it short.
    data = token[:n_bytes].encode("utf-8", errors="ignore")
    if len(data) < n_bytes and len(token) > n_bytes:
        data = token.encode("utf-8", errors="ignore")
    data = data[:n_bytes]
    ids = np.full(max_chars, PAD_CHAR + 1, dtype=np.int64)
    ids[0] = BOW_CHAR + 1
    ids[1 : len(data) + 1] = np.frombuffer(data, dtype=np.uint8).astype(np.int64) + 1
    ids[len(data) + 1] = EOW_CHAR + 1
    return ids


def bos_eos_ids(max_chars: int = MAX_CHARACTERS_PER_TOKEN) -> np.ndarray:
    """The ids of the sentence-start and sentence-end tokens, shape (2, max_chars)."""
    return np.stack([_special(BOS_CHAR, max_chars), _special(EOS_CHAR, max_chars)])


def batch_to_ids(
    sentences: Sequence[Sequence[str]], max_chars: int = MAX_CHARACTERS_PER_TOKEN
) -> np.ndarray:
    """Encode a batch of tokenized sentences, padded with zeros.

    sentences (Sequence[Sequence[str]]): Token strings per sentence.
    max_chars (int): Ids per token.
    RETURNS (numpy.ndarray): int64 array (n_sentences, max_length, max_chars).
    """
    unique, index = encode_unique(sentences, max_chars)
    padded = np.concatenate([np.zeros((1, max_chars), dtype=np.int64), unique])
    return padded[index]


def encode_unique(
    sentences: Sequence[Sequence[str]], max_chars: int = MAX_CHARACTERS_PER_TOKEN
) -> Tuple[np.ndarray, np.ndarray]:
    """Encode each distinct token string of a batch once.

    sentences (Sequence[Sequence[str]]): Token strings per sentence.
    max_chars (int): Ids per token.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): The ids of the distinct tokens,
        (n_unique, max_chars), and an index (n_sentences, max_length) into them,
        offset by one so that 0 marks padding.
    """
    strings, index = unique_tokens(sentences)
    return strings_to_ids(strings, max_chars), index


def strings_to_ids(strings: Sequence[str], max_chars: int = MAX_CHARACTERS_PER_TOKEN) -> np.ndarray:
    """Encode token strings, one row each.

    strings (Sequence[str]): The tokens.
    max_chars (int): Ids per token.
    RETURNS (numpy.ndarray): int64 array (len(strings), max_chars).
    """
    ids = np.empty((len(strings), max_chars), dtype=np.int64)
    for i, token in enumerate(strings):
        ids[i] = token_to_ids(token, max_chars)
    return ids


def unique_tokens(sentences: Sequence[Sequence[str]]) -> Tuple[List[str], np.ndarray]:
    """The distinct token strings of a batch, in order of first appearance.

    sentences (Sequence[Sequence[str]]): Token strings per sentence.
    RETURNS (Tuple[List[str], numpy.ndarray]): The distinct strings, and an int64
        index (n_sentences, max_length) into them, offset by one (0 = padding).
    """
    lookup: Dict[str, int] = {}
    max_len = max((len(s) for s in sentences), default=0)
    index = np.zeros((len(sentences), max_len), dtype=np.int64)
    for row, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise TypeError(
                f"Sentence {row} is a str, not a sequence of token strings: "
                "tokenize it first (e.g. text.split())"
            )
        for col, token in enumerate(sentence):
            if not isinstance(token, str):
                raise TypeError(f"Token {col} of sentence {row} is {type(token).__name__}, not str")
            index[row, col] = lookup.setdefault(token, len(lookup)) + 1
    return list(lookup), index
