"""The language model's output vocabulary: `<S>`, `</S>`, `<UNK>`, then words by
falling frequency (the order the log-uniform sampler and the adaptive softmax's
clusters rely on). Saved as bilm-tf's `vocab.txt`, one word per line."""

import math
from pathlib import Path
from typing import Dict, Sequence

import numpy as np

from ..bilm.chars import BOS_TOKEN, EOS_TOKEN
from ..io.atomic import atomic_path
from .corpus import TokenizedText

UNK_TOKEN = "<UNK>"
SPECIALS = (BOS_TOKEN, EOS_TOKEN, UNK_TOKEN)
BOS_ID, EOS_ID, UNK_ID = 0, 1, 2


class Vocabulary:
    """Words with their ids; anything else maps to `<UNK>`.

    words (List[str]): `<S>`, `</S>`, `<UNK>` and then the words.
    """

    def __init__(self, words: Sequence[str]) -> None:
        if tuple(words[:3]) != SPECIALS:
            raise ValueError(
                f"A vocabulary must start with {', '.join(SPECIALS)}; found {list(words[:3])}"
            )
        self.words = list(words)
        self.index: Dict[str, int] = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            dupes = sorted({w for w in self.words if self.words.count(w) > 1})[:5]
            raise ValueError(f"The vocabulary repeats words: {dupes}")

    def __len__(self) -> int:
        return len(self.words)

    def lookup(self, types: Sequence[str]) -> np.ndarray:
        """Word id of each string (`<UNK>`'s id for unknown ones).

        RETURNS (np.ndarray): int64 ids.
        """
        return np.asarray([self.index.get(t, UNK_ID) for t in types], dtype=np.int64)

    @classmethod
    def build(cls, text: TokenizedText, *, min_count: int, max_size: int) -> "Vocabulary":
        """Words seen at least `min_count` times, most frequent first (ties in string
        order, so the result is deterministic), at most `max_size` entries in all.

        RETURNS (Vocabulary): The vocabulary.
        """
        counts = text.counts()
        kept = [
            (-int(c), t) for t, c in zip(text.types, counts) if c >= min_count and t not in SPECIALS
        ]
        kept.sort()
        words = [t for _, t in kept[: max(0, max_size - len(SPECIALS))]]
        return cls(list(SPECIALS) + words)

    def to_disk(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text("".join(w + "\n" for w in self.words), encoding="utf8")

    @classmethod
    def from_disk(cls, path: Path) -> "Vocabulary":
        words = path.read_text(encoding="utf-8-sig").split("\n")
        return cls([w for w in words if w])


def unigram_log_probs(vocab: Vocabulary, text: TokenizedText) -> np.ndarray:
    """Log-probabilities of a unigram model of the forward targets of `text` (every
    word plus one `</S>` per sentence; `<S>` gets the same count, as the backward
    targets' sentence end), add-one smoothed over the vocabulary.

    RETURNS (np.ndarray): float64 (len(vocab),).
    """
    counts = np.zeros(len(vocab), dtype=np.float64)
    np.add.at(counts, vocab.lookup(text.types), text.counts())
    counts[BOS_ID] = counts[EOS_ID] = text.n_sentences
    counts += 1.0
    return np.log(counts / counts.sum())


def unigram_perplexity(log_probs: np.ndarray, vocab: Vocabulary, text: TokenizedText) -> float:
    """Perplexity of a unigram model on the forward targets of `text`.

    RETURNS (float): exp of the mean negative log-probability.
    """
    word_ids = vocab.lookup(text.types)
    nll = -float(np.dot(log_probs[word_ids], text.counts()))
    nll -= text.n_sentences * float(log_probs[EOS_ID])
    return math.exp(nll / (text.n_tokens + text.n_sentences))
