"""The biLM inside a task component (ElmoTok2Vec): every layer per Doc from its own
copy of the biLM, frozen or fine-tuned."""

from typing import Any, Callable, List, Tuple

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats3d

from .bilm_layer import set_weights_ref
from .bilm_shim import get_bilm, has_bilm


def ElmoEmbedded(
    bilm: Model[List[Doc], List[Floats3d]],
    *,
    weights: Any = None,
    grad_factor: float = 0.0,
) -> Model[List[Doc], List[Floats3d]]:
    """The biLM inside a task component: every layer per Doc, loaded at initialize.

    bilm (Model[List[Doc], List[Floats3d]]): The biLM layer (spacy-elmo.ElmoBiLM.v*).
    weights: A weights reference, read when the biLM is initialized without
        weights; None: the biLM layer's own (by default the shipped biLM).
    grad_factor (float): 0: frozen (no gradient reaches the biLM, which then runs
        without autograd and may use its segment cache); otherwise the gradient is
        multiplied by this and the biLM is fine-tuned with the task.
    """
    if weights is not None:
        set_weights_ref(bilm, weights)
    model: Model[List[Doc], List[Floats3d]] = Model(
        "elmo-embedded",
        _embedded_forward,
        init=_embedded_init,
        layers=[bilm],
        dims={"nO": None, "nL": None},
        attrs={"grad_factor": grad_factor},
    )
    if has_bilm(bilm):
        _set_bilm_dims(model)
    return model


def _set_bilm_dims(model: Model) -> None:
    bilm = get_bilm(model.layers[0])
    model.set_dim("nO", bilm.output_dim)
    model.set_dim("nL", bilm.n_output_layers)


def _embedded_init(model: Model, X: Any = None, Y: Any = None) -> None:
    model.layers[0].initialize()
    _set_bilm_dims(model)


def _embedded_forward(
    model: Model[List[Doc], List[Floats3d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats3d], Callable[[List[Floats3d]], List[Doc]]]:
    bilm = model.layers[0]
    factor = model.attrs["grad_factor"]
    if not (is_train and factor):
        return bilm.predict(docs), no_backprop
    layers, bp_layers = bilm(docs, is_train)

    def backprop(d_layers: List[Floats3d]) -> List[Doc]:
        return bp_layers([d * factor for d in d_layers])

    return layers, backprop


def no_backprop(d_layers: List[Floats3d]) -> List[Doc]:
    """The backprop callback of a pass that sends no gradient to the biLM."""
    return []
