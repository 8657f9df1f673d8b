"""The thinc shim that owns the biLM: the ElmoBiLM (empty until its weights are
read), its segment cache, its serialization in the biLM's own file format, mixed
precision and the gradient-scaled backward pass."""

from typing import Any, Dict, Hashable, List, Optional, cast

import torch
from thinc.api import Model, PyTorchShim, get_torch_default_device
from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler

from ..bilm.model import ElmoBiLM
from ..io.formats import bilm_from_message, bilm_to_message
from .segment_cache import SegmentCache

NO_WEIGHTS = (
    "The ELMo biLM of '{name}' has no weights yet: run nlp.initialize() (it loads "
    "[initialize.components.{name}] weights = ..., else the shipped biLM), or load "
    "some with nlp.get_pipe('{name}').load_weights(...)."
)


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
    """The biLM as msgpack, in its own kind of files (nothing is pickled)."""
    if bilm is None:
        return b""
    return bilm_to_message(bilm)


def _deserialize_bilm(current: Any, data: bytes, device: torch.device) -> Optional[ElmoBiLM]:
    """Read what _serialize_bilm wrote, onto `device`."""
    if not data:
        return None
    return bilm_from_message(data, "serialized ELMo biLM").to(device)


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
