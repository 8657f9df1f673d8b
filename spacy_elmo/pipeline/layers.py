"""thinc layer wrapping the biLM: a list of Docs in, every ELMo layer per Doc out."""

from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple, cast

import numpy as np
import srsly
import torch
from spacy.tokens import Doc
from thinc.api import Model, PyTorchShim, get_torch_default_device, torch2xp, xp2torch
from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler
from thinc.types import Floats3d

from ..bilm.manylangs import ManyLangsBiLM
from ..bilm.model import ElmoBiLM
from ..errors import ElmoFormatError
from ..io import manylangs_files
from ..io.text import is_bilm_token
from ..io.weights import bilm_from_bytes, bilm_to_bytes

Segment = Tuple[int, np.ndarray, List[str]]  # doc index, token indices, token strings
Target = Tuple[int, torch.Tensor]  # doc index, token indices on the biLM's device
Batch = List[int]  # segment indices
Reducer = Callable[[torch.Tensor], torch.Tensor]  # (n_layers, ...) -> (k, ...)
NO_WEIGHTS = (
    "The ELMo biLM of '{name}' has no weights yet: run nlp.initialize() (it loads "
    "[initialize.components.{name}] weights = ..., else the shipped biLM), or load "
    "some with nlp.get_pipe('{name}').load_weights(...)."
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
    `max_batch_tokens` padded tokens. The biLM is held by the layer's ElmoBiLMShim:
    the weights are added later (see `set_bilm`), and serialized in the original hdf5
    format, never pickled.

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
    shim = ElmoBiLMShim(
        mixed_precision=mixed_precision, grad_scaler=grad_scaler, cache_bytes=int(cache_mb * 2**20)
    )
    return Model(
        "elmo_bilm",
        _forward,
        shims=[shim],
        attrs={"max_batch_tokens": max_batch_tokens, "window": window, "name": "elmo"},
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


class ElmoBiLMShim(PyTorchShim):
    """thinc's PyTorchShim for the biLM, owning everything about it: the ElmoBiLM
    (None until weights are loaded), its SegmentCache, its serialization in the
    original hdf5 format, mixed precision and the gradient-scaled backward pass.

    The thinc layer calls the biLM itself (it batches segments, not one tensor), so
    the shim's own predict/begin_update are not used; finish_update, use_params,
    to_device and to_bytes/from_bytes are thinc's.
    """

    def __init__(
        self,
        *,
        mixed_precision: bool = False,
        grad_scaler: Optional[PyTorchGradScaler] = None,
        cache_bytes: int = 0,
    ) -> None:
        """mixed_precision (bool): Autocast (float16) when the biLM is on a GPU.
        grad_scaler (Optional[PyTorchGradScaler]): thinc's scaler; None: thinc's
            default (on with mixed precision).
        cache_bytes (int): Size of the SegmentCache; 0: no cache.
        """
        super().__init__(
            None,
            mixed_precision=mixed_precision,
            grad_scaler=grad_scaler,
            serialize_model=_serialize_bilm,
            deserialize_model=_deserialize_bilm,
        )
        self._segment_cache = SegmentCache(cache_bytes) if cache_bytes > 0 else None

    def __getstate__(self) -> Dict[str, Any]:
        """Copies (Model.copy, deepcopy) and pickles leave the cached layers behind:
        a copied model gets its own, empty cache."""
        state = self.__dict__.copy()
        if self._segment_cache is not None:
            state["_segment_cache"] = SegmentCache(self._segment_cache.max_bytes)
        return state

    @property
    def has_bilm(self) -> bool:
        """Whether weights were loaded."""
        return self._model is not None

    def get_bilm(self, name: str = "elmo") -> ElmoBiLM:
        """The biLM; a clear error naming the component `name` when it has none."""
        if self._model is None:
            raise ValueError(NO_WEIGHTS.format(name=name))
        return self._model

    def set_bilm(self, bilm: ElmoBiLM) -> None:
        """Hold `bilm`, moved to the device of thinc's current ops."""
        self._model = bilm.to(get_torch_default_device())

    @property
    def grad_scaler(self) -> PyTorchGradScaler:
        """thinc's gradient scaler (used when the biLM is fine-tuned on a GPU)."""
        return self._grad_scaler

    @property
    def segment_cache(self) -> Optional[SegmentCache]:
        """The SegmentCache, or None when it has none (cache_mb = 0)."""
        return self._segment_cache

    def cache_for_pass(self, is_train: bool) -> Optional[SegmentCache]:
        """The cache if this pass may read it: a training pass empties it (the weights
        are about to change), any other pass first checks the weights it holds."""
        cache = self._segment_cache
        if cache is None:
            return None
        if is_train:
            cache.clear()
            return None
        cache.check(_weights_signature(self.get_bilm()))
        return cache

    def autocast(self) -> torch.autocast:
        """float16 autocast with mixed precision on a GPU; a no-op otherwise."""
        device_type = self.device.type
        return torch.autocast(device_type, enabled=self._mixed_precision and device_type == "cuda")

    def backward(self, tensors: List[torch.Tensor], grads: List[torch.Tensor]) -> None:
        """Backpropagate `grads` through `tensors` into the biLM's weight gradients.

        In mixed precision the gradients are scaled as thinc's PyTorchShim does, and
        the weight gradients unscaled; on overflow they are zeroed and finish_update
        skips the step (the scaler's found_inf). On the CPU autocast is off, and so is
        scaling: thinc's scaler needs CUDA.
        """
        if not tensors:
            return
        scaler = self._grad_scaler if self.device.type == "cuda" else None
        if scaler is not None:
            grads = cast(List[torch.Tensor], scaler.scale(grads, inplace=True))
        torch.autograd.backward(tensors, grads)
        weight_grads = [p.grad for p in self.get_bilm().parameters() if p.grad is not None]
        if scaler is not None and scaler.unscale(weight_grads):
            for g in weight_grads:
                g.zero_()


def _weights_signature(bilm: ElmoBiLM) -> Hashable:
    """Changes when the biLM object or any of its parameters is replaced or changed in
    place (thinc's optimizer step assigns new tensors)."""
    return (id(bilm),) + tuple((p.data_ptr(), p._version) for p in bilm.parameters())


def _serialize_bilm(bilm: Optional[ElmoBiLM]) -> bytes:
    """The biLM as msgpack: its options and its weights as hdf5 bytes, or for an
    ELMoForManyLangs biLM the files of its model directory."""
    if bilm is None:
        return b""
    if isinstance(bilm, ManyLangsBiLM):
        return srsly.msgpack_dumps({"elmoformanylangs": manylangs_files.model_files(bilm)})
    return srsly.msgpack_dumps({"options": bilm.options.raw, "weights": bilm_to_bytes(bilm)})


def _deserialize_bilm(current: Any, data: bytes, device: torch.device) -> Optional[ElmoBiLM]:
    """Read what _serialize_bilm wrote, onto `device`."""
    if not data:
        return None
    source = "serialized ELMo biLM"
    try:
        msg = srsly.msgpack_loads(data)
        if "elmoformanylangs" in msg:
            files = msg["elmoformanylangs"]
            return manylangs_files.bilm_from_model_files(files, source).to(device)
        options, weights = msg["options"], msg["weights"]
    except ElmoFormatError:
        raise
    except Exception as e:  # msgpack raises several types for corrupt data
        raise ElmoFormatError(f"Cannot read the serialized ELMo biLM: {e}") from None
    return bilm_from_bytes(options, weights, source).to(device)


def bilm_shim(model: Model) -> ElmoBiLMShim:
    """The ElmoBiLMShim of a layer made by ElmoBiLMModel."""
    return cast(ElmoBiLMShim, model.shims[0])


def get_bilm(model: Model) -> ElmoBiLM:
    """The biLM inside the layer; a clear error when no weights were loaded."""
    return bilm_shim(model).get_bilm(model.attrs["name"])


def has_bilm(model: Model) -> bool:
    """Whether weights were loaded into the layer."""
    return bilm_shim(model).has_bilm


def set_bilm(model: Model, bilm: ElmoBiLM) -> None:
    """Put a biLM into the layer, on the device of thinc's current ops."""
    bilm_shim(model).set_bilm(bilm)


def get_segment_cache(model: Model) -> Optional[SegmentCache]:
    """The layer's SegmentCache, or None when it has no cache (cache_mb = 0)."""
    return bilm_shim(model).segment_cache


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
    segments = segment_docs(docs, model.attrs["window"])
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
