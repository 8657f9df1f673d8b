"""What the biLM reads of a Doc: segments (sentences or windows of tokens), and
batches of them bounded by padded tokens."""

from typing import List, Sequence, Tuple

import numpy as np
from spacy.tokens import Doc

from ..io.text import is_bilm_token

Segment = Tuple[int, np.ndarray, List[str]]  # doc index, token indices, token strings


def segment_docs(docs: Sequence[Doc], window: int) -> List[Segment]:
    """Cut Docs into the units the biLM reads: sentences if the Doc has them,
    else windows; at most `window` tokens each, whitespace tokens left out."""
    segments: List[Segment] = []
    for i, doc in enumerate(docs):
        spans = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
        for span in spans:
            index = np.array([t.i for t in span if is_bilm_token(t)], dtype=np.int64)
            for start in range(0, len(index), window):
                part = index[start : start + window]
                segments.append((i, part, [doc[int(j)].text for j in part]))
    return segments


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
