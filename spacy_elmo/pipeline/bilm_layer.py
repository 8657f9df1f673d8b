"""The thinc layer of the biLM: a list of Docs in, every ELMo layer per Doc out.

The layer owns its weights: it holds a weights reference (`weights` in its attrs)
and reads it when it is initialized with an empty shim, never when it is built, so a
saved pipeline loads from its own files whatever its config names.
"""

import os
from typing import Any, Callable, List, Optional, Sequence, Tuple, cast

import torch
from spacy.tokens import Doc
from thinc.api import Model, torch2xp, xp2torch
from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler
from thinc.types import Floats3d

from ..errors import ElmoFormatError
from ..io.references import DEFAULT_WEIGHTS, WeightsRef, load_bilm
from .bilm_shim import ElmoBiLMShim, bilm_shim, get_bilm, has_bilm, set_bilm
from .config_errors import ElmoConfigError
from .segment_cache import SegmentCache
from .segments import (
    DEFAULT_PUNCT_CHARS,
    SENTENCE_MODES,
    Segment,
    batch_by_padded_tokens,
    segment_docs,
)

Target = Tuple[int, torch.Tensor]  # doc index, token indices on the biLM's device
Batch = List[int]  # segment indices
Reducer = Callable[[torch.Tensor], torch.Tensor]  # (n_layers, ...) -> (k, ...)


def ElmoBiLMModel(
    *,
    max_batch_tokens: int = 1024,
    window: int = 64,
    mixed_precision: bool = False,
    grad_scaler: Optional[PyTorchGradScaler] = None,
    cache_mb: float = 0.0,
    sentences: str = "doc",
    punct_chars: Optional[Sequence[str]] = None,
) -> Model[List[Doc], List[Floats3d]]:
    """Run the ELMo biLM over Docs, one sentence (or window) at a time.

    With sentences="doc", sentences come from the Doc's sentence boundaries when it
    has them (a parser, senter or the user set them); with "punct" the layer splits
    the Doc itself after sentence-final punctuation, whatever its boundaries; with
    "none" there are no sentences. Sentences, and Docs without them, are cut into
    windows of `window` tokens. Whitespace tokens are not given to the biLM and get zero vectors.
    Segments are sorted by length and batched so that a batch holds at most
    `max_batch_tokens` padded tokens. The biLM is held by the layer's ElmoBiLMShim,
    empty until the layer is initialized (which reads the weights reference set with
    `set_weights_ref`, else the shipped biLM) or a saved layer is loaded; it is
    serialized in its own file format, never pickled.

    max_batch_tokens (int): Most padded tokens per forward pass.
    window (int): Most tokens per segment (long sentences are cut too).
    mixed_precision (bool): Use autocast (float16) on GPU.
    grad_scaler (Optional[PyTorchGradScaler]): Scales the gradients when the biLM is
        fine-tuned in mixed precision (thinc's shim convention); None: no scaling.
    cache_mb (float): Keep the layers of up to this many MiB of segments (float32, on
        the model's device), keyed by the segment's token strings, and reuse them when
        the same segment comes again without gradients (see SegmentCache). 0: no cache.
    sentences (str): "doc", "punct" or "none" (see segments.segment_docs).
    punct_chars (Optional[Sequence[str]]): The sentence-final tokens of "punct";
        None: those of spaCy's sentencizer.
    RETURNS (Model[List[Doc], List[Floats3d]]): Per Doc, (n_layers + 1, n_tokens, dim).
    """
    if max_batch_tokens < 1 or window < 1:
        raise ValueError(
            f"max_batch_tokens and window must be positive, got {max_batch_tokens}, {window}"
        )
    if cache_mb < 0:
        raise ValueError(f"cache_mb must be 0 or positive, got {cache_mb}")
    if sentences not in SENTENCE_MODES:
        raise ValueError(f"sentences must be one of {SENTENCE_MODES}, got {sentences!r}")
    shim = ElmoBiLMShim(
        mixed_precision=mixed_precision, grad_scaler=grad_scaler, cache_bytes=int(cache_mb * 2**20)
    )
    return Model(
        "elmo_bilm",
        _forward,
        init=_init,
        shims=[shim],
        attrs={
            "max_batch_tokens": max_batch_tokens,
            "window": window,
            "sentences": sentences,
            "punct_chars": sorted(DEFAULT_PUNCT_CHARS if punct_chars is None else punct_chars),
            "name": "elmo",
            "weights": None,
        },
    )


def set_weights_ref(model: Model, ref: Optional[WeightsRef]) -> None:
    """Set the weights reference the layer reads when it is initialized empty.

    model (Model): A layer made by ElmoBiLMModel.
    ref (Optional[WeightsRef]): Any weights reference; None: the shipped biLM.
    """
    if isinstance(ref, str) and not ref.strip():
        raise ElmoConfigError(
            f"weights of '{model.attrs['name']}' is an empty string: name the weights, "
            f"or leave the setting null for the shipped biLM ({DEFAULT_WEIGHTS})"
        )
    model.attrs["weights"] = _plain_ref(ref)


def read_weights(model: Model, ref: Optional[WeightsRef] = None) -> None:
    """Read weights into the layer now, replacing any it holds.

    model (Model): A layer made by ElmoBiLMModel.
    ref (Optional[WeightsRef]): Any weights reference, or an ElmoBiLM; None: the
        layer's own reference (see set_weights_ref).
    """
    if ref is None:
        ref = model.attrs["weights"]
    elif not isinstance(ref, (str, os.PathLike, tuple, list, dict)):
        model.attrs["weights"] = None  # a biLM object: nothing to name in the config
    else:
        set_weights_ref(model, ref)
    try:
        bilm = load_bilm(DEFAULT_WEIGHTS if ref is None else ref)
    except ElmoFormatError as e:
        if isinstance(e, ElmoConfigError):
            raise
        raise ElmoConfigError(
            f"{e} (the weights of '{model.attrs['name']}'; with spacy-elmo's configs, "
            "--paths.elmo_weights names them)"
        ) from None
    set_bilm(model, bilm)


def ensure_weights(model: Model) -> None:
    """Read the layer's weights if it has none yet (its first use)."""
    if not has_bilm(model):
        read_weights(model)


def _init(model: Model, X: Any = None, Y: Any = None) -> None:
    ensure_weights(model)


def _plain_ref(ref: Optional[WeightsRef]) -> Any:
    """A weights reference as config values (strings, lists, dicts), so the layer's
    attrs serialize; a biLM object is not kept."""
    if ref is None or isinstance(ref, str):
        return ref
    if isinstance(ref, os.PathLike):
        return os.fspath(ref)
    if isinstance(ref, (tuple, list)):
        return [os.fspath(part) for part in ref]
    if isinstance(ref, dict):
        return {key: os.fspath(value) for key, value in ref.items()}
    return None


def predict_reduced(
    model: Model[List[Doc], List[Floats3d]], docs: List[Doc], reduce: Reducer
) -> List[Floats3d]:
    """Predict, reducing each batch's layers (e.g. to their average) before they are
    copied into the Docs' outputs, so that only the reduced layers grow with a Doc's
    length: per Doc (k, n_tokens, dim) instead of every layer.

    reduce (Callable[[torch.Tensor], torch.Tensor]): (n_layers, ...) -> (k, ...).
    """
    return _run(model, docs, False, reduce)[0]


def _forward(
    model: Model[List[Doc], List[Floats3d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats3d], Callable[[List[Floats3d]], List[Doc]]]:
    """Per Doc, every biLM layer: from the cache, or run in batches of segments."""
    return _run(model, docs, is_train, None)


def _run(
    model: Model[List[Doc], List[Floats3d]],
    docs: List[Doc],
    is_train: bool,
    reduce: Optional[Reducer],
) -> Tuple[List[Floats3d], Callable[[List[Floats3d]], List[Doc]]]:
    shim = bilm_shim(model)
    bilm = get_bilm(model)
    device = shim.device
    attrs = model.attrs
    segments = segment_docs(
        docs, attrs["window"], attrs["sentences"], frozenset(attrs["punct_chars"])
    )
    targets: List[Target] = [(i, torch.from_numpy(index).to(device)) for i, index, _ in segments]
    keep = reduce or (lambda layers: layers)
    n_out = keep(torch.zeros(bilm.n_output_layers, 1, device=device)).shape[0]
    outputs = [torch.zeros(n_out, len(doc), bilm.output_dim, device=device) for doc in docs]
    cache = shim.cache_for_pass(is_train)
    todo = list(range(len(segments)))
    if cache is not None:
        todo = _read_cache(cache, segments, targets, outputs, keep)
    kept: List[Tuple[torch.Tensor, Batch]] = []
    for batch in _batches(todo, segments, model.attrs["max_batch_tokens"]):
        layers = _run_batch(shim, [segments[i][2] for i in batch], is_train)
        _scatter(keep(layers), batch, targets, outputs)
        if cache is not None:
            _write_cache(cache, layers, batch, segments)
        if is_train:
            kept.append((layers, batch))

    def backprop(d_outputs: List[Floats3d]) -> List[Doc]:
        grads = [xp2torch(d, device=device) for d in d_outputs]
        shim.backward(
            [layers for layers, _ in kept],
            [_gather_gradient(layers, batch, targets, grads) for layers, batch in kept],
        )
        return docs

    return [cast(Floats3d, torch2xp(out)) for out in outputs], backprop


def _read_cache(
    cache: SegmentCache,
    segments: List[Segment],
    targets: List[Target],
    outputs: List[torch.Tensor],
    keep: Reducer,
) -> List[int]:
    """Copy the cached segments' layers (reduced by `keep`) into their Docs' outputs;
    return the others."""
    todo = []
    for i, (doc_i, _, strings) in enumerate(segments):
        found = cache.get(tuple(strings)) if strings else None
        if found is None:
            todo.append(i)
        else:
            outputs[doc_i][:, targets[i][1]] = keep(found)
    return todo


def _batches(todo: List[int], segments: List[Segment], max_batch_tokens: int) -> List[Batch]:
    """The segments `todo` in batches of at most `max_batch_tokens` padded tokens."""
    lengths = [len(segments[i][1]) for i in todo]
    return [[todo[j] for j in batch] for batch in batch_by_padded_tokens(lengths, max_batch_tokens)]


def _run_batch(shim: ElmoBiLMShim, tokens: List[List[str]], is_train: bool) -> torch.Tensor:
    """The biLM's layers of one batch, float32 (n_layers + 1, n_segments, length, dim)."""
    bilm = shim.get_bilm()
    if is_train:
        with shim.autocast():
            return bilm.embed_tokens(tokens).layers.float()
    # Without gradients, run in inference mode, not just no_grad: it skips autograd's
    # bookkeeping, and it switches on the biLM's own token caches (ElmoBiLM.token_vectors).
    # The tensors made in it are inference tensors, which may never enter autograd or be
    # changed in place outside it; _scatter and _write_cache copy them into ordinary
    # tensors (the per-Doc outputs, the cache's clones) and nothing else keeps them.
    with torch.inference_mode(), shim.autocast():
        return bilm.embed_tokens(tokens).layers.float()


def _scatter(
    layers: torch.Tensor, batch: Batch, targets: List[Target], outputs: List[torch.Tensor]
) -> None:
    """Copy each segment's layers to its tokens' positions in its Doc's output."""
    for row, i in enumerate(batch):
        doc_i, target = targets[i]
        outputs[doc_i][:, target] = layers[:, row, : len(target)].detach()


def _write_cache(
    cache: SegmentCache, layers: torch.Tensor, batch: Batch, segments: List[Segment]
) -> None:
    """Add each non-empty segment's layers (a copy) to the cache."""
    for row, i in enumerate(batch):
        strings = segments[i][2]
        if strings:
            cache.add(tuple(strings), layers[:, row, : len(strings)].detach().clone())


def _gather_gradient(
    layers: torch.Tensor, batch: Batch, targets: List[Target], grads: List[torch.Tensor]
) -> torch.Tensor:
    """The gradient of one batch's layers, gathered from the per-Doc gradients."""
    grad = torch.zeros_like(layers)
    for row, i in enumerate(batch):
        doc_i, target = targets[i]
        grad[:, row, : len(target)] = grads[doc_i][:, target]
    return grad
