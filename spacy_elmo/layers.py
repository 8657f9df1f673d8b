"""thinc layer wrapping the biLM: a list of Docs in, every ELMo layer per Doc out."""

from typing import Any, Callable, List, Optional, Sequence, Tuple, cast

import numpy as np
import srsly
import torch
from spacy.tokens import Doc
from thinc.api import Model, PyTorchShim, get_torch_default_device, torch2xp, xp2torch
from thinc.types import Floats3d

from .errors import ElmoFormatError
from .nn.bilm import ElmoBiLM
from .weights import bilm_from_bytes, bilm_to_bytes

Segment = Tuple[int, np.ndarray, List[str]]  # doc index, token indices, token strings
NO_WEIGHTS = (
    "The ELMo biLM has no weights yet. Give the 'elmo' component a weights reference: "
    "in its config (weights = ...), at initialize ([initialize.components.{name}] "
    "weights = ...), or with nlp.get_pipe('{name}').load_weights(...)."
)


def ElmoBiLMModel(
    *, max_batch_tokens: int = 1024, window: int = 64, mixed_precision: bool = False
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
    RETURNS (Model[List[Doc], List[Floats3d]]): Per Doc, (n_layers + 1, n_tokens, dim).
    """
    if max_batch_tokens < 1 or window < 1:
        raise ValueError(
            f"max_batch_tokens and window must be positive, got {max_batch_tokens}, {window}"
        )
    shim = PyTorchShim(
        None,
        mixed_precision=mixed_precision,
        serialize_model=_serialize_bilm,
        deserialize_model=_deserialize_bilm,
    )
    return Model(
        "elmo_bilm",
        _forward,
        shims=[shim],
        attrs={"max_batch_tokens": max_batch_tokens, "window": window, "name": "elmo"},
    )


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
            index = np.array([t.i for t in span if not t.is_space], dtype=np.int64)
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
    batches = batch_by_padded_tokens([len(s[1]) for s in segments], model.attrs["max_batch_tokens"])
    device = next(bilm.parameters()).device
    autocast = torch.autocast(device.type, enabled=shim._mixed_precision and device.type == "cuda")
    outputs = [
        torch.zeros(bilm.n_output_layers, len(doc), bilm.output_dim, device=device) for doc in docs
    ]
    # Per segment: its Doc and the Doc positions of its tokens.
    targets = [(doc_i, torch.from_numpy(index).to(device)) for doc_i, index, _ in segments]
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
            outputs[doc_i][:, target] = layers[:, row, : len(target)].detach()
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
            torch.autograd.backward(tensors, grad_tensors)
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
