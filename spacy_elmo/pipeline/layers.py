"""thinc layer wrapping the biLM: a list of Docs in, every ELMo layer per Doc out."""

import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple, cast

import numpy as np
import srsly
import torch
from spacy.tokens import Doc
from thinc.api import Model, PyTorchShim, get_torch_default_device, torch2xp, xp2torch
from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler
from thinc.types import Floats3d

from ..bilm.model import ElmoBiLM
from ..errors import ElmoFormatError
from ..io.text import is_bilm_token
from ..io.weights import bilm_from_bytes, bilm_to_bytes

Segment = Tuple[int, np.ndarray, List[str]]  # doc index, token indices, token strings
NO_WEIGHTS = (
    "The ELMo biLM has no weights yet. Give the 'elmo' component a weights reference: "
    "in its config (weights = ...), at initialize ([initialize.components.{name}] "
    "weights = ...), or with nlp.get_pipe('{name}').load_weights(...)."
)


def ElmoBiLMModel(
    *,
    max_batch_tokens: int = 1024,
    window: int = 64,
    mixed_precision: bool = False,
    grad_scaler: Optional[PyTorchGradScaler] = None,
    cache_mb: float = 0.0,
) -> Model[List[Doc], List[Floats3d]]:
    """Run the ELMo biLM over Docs, one sentence (or window) at a time.

    Sentences come from the Doc's sentence boundaries when it has them (a parser,
    senter or the user set them); otherwise the Doc is cut into windows of `window`
    tokens. Whitespace tokens are not given to the biLM and get zero vectors.
    Segments are sorted by length and batched so that a batch holds at most
    `max_batch_tokens` padded tokens. The weights are added later (see `set_bilm`),
    and serialized in the original hdf5 format, never pickled.

    max_batch_tokens (int): Most padded tokens per forward pass.
    window (int): Most tokens per segment (long sentences are cut too).
    mixed_precision (bool): Use autocast (float16) on GPU.
    grad_scaler (Optional[PyTorchGradScaler]): Scales the gradients when the biLM is
        fine-tuned in mixed precision (thinc's shim convention); None: no scaling.
    cache_mb (float): Keep the layers of up to this many MiB of segments (float32, on
        the model's device), keyed by the segment's token strings, and reuse them when
        the same segment comes again without gradients (see SegmentCache). 0: no cache.
    RETURNS (Model[List[Doc], List[Floats3d]]): Per Doc, (n_layers + 1, n_tokens, dim).
    """
    if max_batch_tokens < 1 or window < 1:
        raise ValueError(
            f"max_batch_tokens and window must be positive, got {max_batch_tokens}, {window}"
        )
    if cache_mb < 0:
        raise ValueError(f"cache_mb must be 0 or positive, got {cache_mb}")
    shim = PyTorchShim(
        None,
        mixed_precision=mixed_precision,
        grad_scaler=grad_scaler,
        serialize_model=_serialize_bilm,
        deserialize_model=_deserialize_bilm,
    )
    return Model(
        "elmo_bilm",
        _forward,
        shims=[shim],
        attrs={
            "max_batch_tokens": max_batch_tokens,
            "window": window,
            "name": "elmo",
            "cache_mb": cache_mb,
        },
    )


class SegmentCache:
    """The biLM layers of segments seen before, keyed by their token strings.

    Meant for training with a frozen biLM: the same training (and dev) sentences come
    back every epoch, and a stateless biLM gives them the same layers. Memory is
    bounded by `max_bytes`; once full, new segments are not added (the segments that
    are in stay: with a training set larger than the cache, a fixed part of it hits
    every epoch, where least-recently-used eviction would miss on every segment).
    The cache empties itself when the biLM object or its weights change.

    max_bytes (int): Most bytes of stored layers.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.n_bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: Dict[Tuple[str, ...], torch.Tensor] = OrderedDict()
        self._signature: Optional[Hashable] = None

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, signature: Hashable) -> None:
        """Empty the cache if the weights it was filled with have changed."""
        if signature != self._signature:
            self.clear()
            self._signature = signature

    def get(self, key: Tuple[str, ...]) -> Optional[torch.Tensor]:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def add(self, key: Tuple[str, ...], layers: torch.Tensor) -> None:
        size = layers.numel() * layers.element_size()
        if key in self._entries or self.n_bytes + size > self.max_bytes:
            return
        self._entries[key] = layers
        self.n_bytes += size

    def clear(self) -> None:
        self._entries.clear()
        self.n_bytes = 0
        self._signature = None


# One cache per shim (a copied model gets a new shim, so a new cache); weak keys, so
# the cache goes with its model.
_CACHES: "weakref.WeakKeyDictionary[Any, SegmentCache]" = weakref.WeakKeyDictionary()


def get_segment_cache(model: Model) -> Optional[SegmentCache]:
    """The layer's SegmentCache, or None when it has no cache (cache_mb = 0)."""
    max_bytes = int(model.attrs.get("cache_mb", 0) * 2**20)
    if max_bytes <= 0:
        return None
    shim = model.shims[0]
    cache = _CACHES.get(shim)
    if cache is None or cache.max_bytes != max_bytes:
        cache = _CACHES[shim] = SegmentCache(max_bytes)
    return cache


def _weights_signature(bilm: ElmoBiLM) -> Hashable:
    """Changes when the biLM object or any of its parameters is replaced or changed in
    place (thinc's optimizer step assigns new tensors)."""
    return (id(bilm),) + tuple((p.data_ptr(), p._version) for p in bilm.parameters())


def get_bilm(model: Model) -> ElmoBiLM:
    """The biLM inside the layer; a clear error when no weights were loaded."""
    bilm = model.shims[0]._model
    if bilm is None:
        raise ValueError(NO_WEIGHTS.format(name=model.attrs["name"]))
    return bilm


def has_bilm(model: Model) -> bool:
    """Whether weights were loaded into the layer."""
    return model.shims[0]._model is not None


def set_bilm(model: Model, bilm: ElmoBiLM) -> None:
    """Put a biLM into the layer, on the device of thinc's current ops."""
    model.shims[0]._model = bilm.to(get_torch_default_device())


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


def _forward(
    model: Model[List[Doc], List[Floats3d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats3d], Callable[[List[Floats3d]], List[Doc]]]:
    bilm = get_bilm(model)
    shim = cast(PyTorchShim, model.shims[0])
    segments = segment_docs(docs, model.attrs["window"])
    device = next(bilm.parameters()).device
    autocast = torch.autocast(device.type, enabled=shim._mixed_precision and device.type == "cuda")
    outputs = [
        torch.zeros(bilm.n_output_layers, len(doc), bilm.output_dim, device=device) for doc in docs
    ]
    # Per segment: its Doc and the Doc positions of its tokens.
    targets = [(doc_i, torch.from_numpy(index).to(device)) for doc_i, index, _ in segments]
    cache = get_segment_cache(model)
    todo = list(range(len(segments)))
    if cache is not None:
        if is_train:
            cache.clear()  # gradients: the weights are about to change
            cache = None
        else:
            cache.check(_weights_signature(bilm))
            todo = []
            for i, (doc_i, _, strings) in enumerate(segments):
                found = cache.get(tuple(strings)) if strings else None
                if found is None:
                    todo.append(i)
                else:
                    outputs[doc_i][:, targets[i][1]] = found
    lengths = [len(segments[i][1]) for i in todo]
    batches = [
        [todo[j] for j in batch]
        for batch in batch_by_padded_tokens(lengths, model.attrs["max_batch_tokens"])
    ]
    kept: List[Tuple[torch.Tensor, List[int]]] = []
    for batch in batches:
        tokens = [segments[i][2] for i in batch]
        if is_train:
            with autocast:
                layers = bilm.embed_tokens(tokens).layers.float()
            kept.append((layers, batch))
        else:
            with torch.inference_mode(), autocast:
                layers = bilm.embed_tokens(tokens).layers.float()
        for row, i in enumerate(batch):
            doc_i, target = targets[i]
            found = layers[:, row, : len(target)].detach()
            outputs[doc_i][:, target] = found
            if cache is not None and len(target):
                cache.add(tuple(segments[i][2]), found.clone())
    results = [cast(Floats3d, torch2xp(out)) for out in outputs]

    def backprop(d_outputs: List[Floats3d]) -> List[Doc]:
        grads = [xp2torch(d, device=device) for d in d_outputs]
        tensors, grad_tensors = [], []
        for layers, batch in kept:
            grad = torch.zeros_like(layers)
            for row, i in enumerate(batch):
                doc_i, target = targets[i]
                grad[:, row, : len(target)] = grads[doc_i][:, target]
            tensors.append(layers)
            grad_tensors.append(grad)
        if tensors:
            # Mixed precision: scale the gradients as thinc's PyTorchShim does, then
            # unscale the weight gradients; on overflow they are zeroed and the shim's
            # finish_update skips the step (the scaler's found_inf).
            # (On the CPU autocast is off, and so is scaling: thinc's scaler needs CUDA.)
            scaler = shim._grad_scaler if device.type == "cuda" else None
            if scaler is not None:
                grad_tensors = cast(List[torch.Tensor], scaler.scale(grad_tensors, inplace=True))
            torch.autograd.backward(tensors, grad_tensors)
            weight_grads = [p.grad for p in bilm.parameters() if p.grad is not None]
            if scaler is not None and scaler.unscale(weight_grads):
                for g in weight_grads:
                    g.zero_()
        return docs

    return results, backprop


def _serialize_bilm(bilm: Optional[ElmoBiLM]) -> bytes:
    if bilm is None:
        return b""
    return srsly.msgpack_dumps({"options": bilm.options.raw, "weights": bilm_to_bytes(bilm)})


def _deserialize_bilm(current: Any, data: bytes, device: torch.device) -> Optional[ElmoBiLM]:
    if not data:
        return None
    try:
        msg = srsly.msgpack_loads(data)
        options, weights = msg["options"], msg["weights"]
    except Exception as e:  # msgpack raises several types for corrupt data
        raise ElmoFormatError(f"Cannot read the serialized ELMo biLM: {e}") from None
    return bilm_from_bytes(options, weights, "serialized ELMo biLM").to(device)
