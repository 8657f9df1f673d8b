"""What the biLM reads of a Doc: segments (sentences or windows of tokens), and
batches of them bounded by padded tokens."""

from typing import AbstractSet, List, Sequence, Tuple

import numpy as np
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc

from ..io.text import is_bilm_token

Segment = Tuple[int, np.ndarray, List[str]]  # doc index, token indices, token strings

# Where the biLM's sentences come from: the Doc's sentence boundaries when it has them
# ("doc"), the layer's own split after sentence-final punctuation ("punct"), or nowhere
# (windows of the whole Doc, "none").
SENTENCE_MODES = ("doc", "punct", "none")
# spaCy's sentencizer's own (".", "!", "?", "。", "！", "？" and those of other scripts),
# so that "punct" reads the sentences a default sentencizer would set.
DEFAULT_PUNCT_CHARS = frozenset(Sentencizer.default_punct_chars)


def segment_docs(
    docs: Sequence[Doc],
    window: int,
    sentences: str = "doc",
    punct_chars: AbstractSet[str] = DEFAULT_PUNCT_CHARS,
) -> List[Segment]:
    """Cut Docs into the units the biLM reads: sentences, then windows of at most
    `window` tokens each, whitespace tokens left out.

    docs (Sequence[Doc]): The Docs.
    window (int): Most tokens per segment.
    sentences (str): "doc": the Doc's sentences when it has sentence boundaries, else
        the whole Doc; "punct": sentences that end at a token in `punct_chars` (the
        Doc's boundaries are not read, and nothing is set on the Doc); "none": the
        whole Doc.
    punct_chars (AbstractSet[str]): Sentence-final tokens, with "punct".
    RETURNS (List[Segment]): Per segment, its Doc's index, its token indices and texts.
    """
    segments: List[Segment] = []
    for i, doc in enumerate(docs):
        for start, end in _sentence_bounds(doc, sentences, punct_chars):
            index = np.array([t.i for t in doc[start:end] if is_bilm_token(t)], dtype=np.int64)
            for first in range(0, len(index), window):
                part = index[first : first + window]
                segments.append((i, part, [doc[int(j)].text for j in part]))
    return segments


def _sentence_bounds(
    doc: Doc, sentences: str, punct_chars: AbstractSet[str]
) -> List[Tuple[int, int]]:
    """(start, end) of each sentence the biLM reads of a Doc (see segment_docs)."""
    if sentences == "punct":
        starts = punct_sentence_starts(doc, punct_chars)
        return list(zip(starts, starts[1:] + [len(doc)]))
    if sentences == "doc" and doc.has_annotation("SENT_START"):
        return [(sent.start, sent.end) for sent in doc.sents]
    return [(0, len(doc))]


def punct_sentence_starts(doc: Doc, punct_chars: AbstractSet[str]) -> List[int]:
    """The first token of each sentence, by spaCy's sentencizer's rule: a sentence ends
    after a token in `punct_chars` and the punctuation tokens right after it (closing
    quotes, brackets, more periods).

    doc (Doc): The Doc; read only.
    punct_chars (AbstractSet[str]): Sentence-final tokens.
    RETURNS (List[int]): Token indices, starting with 0.
    """
    starts = [0]
    seen_end = False
    for token in doc:
        is_end = token.text in punct_chars
        if seen_end and not token.is_punct and not is_end:
            starts.append(token.i)
            seen_end = False
        elif is_end:
            seen_end = True
    return starts


def batch_by_padded_tokens(lengths: Sequence[int], max_batch_tokens: int) -> List[List[int]]:
    """Group segment indices, sorted by length, so that each batch holds at most
    max_batch_tokens padded tokens (a longer segment gets a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: List[List[int]] = []
    current: List[int] = []
    for i in order:
        if current and lengths[i] * (len(current) + 1) > max_batch_tokens:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
