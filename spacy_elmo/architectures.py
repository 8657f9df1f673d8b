"""Registered model architectures (versioned names; a released one is never changed)."""

from typing import List

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats3d

from .layers import ElmoBiLMModel


@registry.architectures("spacy-elmo.ElmoBiLM.v1")
def ElmoBiLM_v1(
    max_batch_tokens: int = 1024, window: int = 64, mixed_precision: bool = False
) -> Model[List[Doc], List[Floats3d]]:
    """The ELMo biLM over Docs: every layer of every token, per Doc.

    max_batch_tokens (int): Most padded tokens per forward pass (bounds memory).
    window (int): Most tokens the biLM reads at once: sentences (from the Doc's
        sentence boundaries, when set) longer than this, and Docs without sentence
        boundaries, are cut into windows of this size.
    mixed_precision (bool): float16 autocast on GPU.
    RETURNS (Model[List[Doc], List[Floats3d]]): Per Doc, (n_layers + 1, n_tokens, dim).
    """
    return ElmoBiLMModel(
        max_batch_tokens=max_batch_tokens, window=window, mixed_precision=mixed_precision
    )
