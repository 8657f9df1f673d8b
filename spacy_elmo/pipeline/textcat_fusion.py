"""Late fusion of two text classifiers: each trained on its own loss, their
probabilities mixed with a fixed weight, so that adding ELMo to a lexical model
cannot take the lexical model's signal away."""

from typing import Any, Callable, List, Optional, Tuple

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d


def TextCatFusion(
    linear_model: Model[List[Doc], Floats2d],
    neural_model: Model[List[Doc], Floats2d],
    neural_weight: float,
) -> Model[List[Doc], Floats2d]:
    """p = (1 - w) * p_linear + w * p_neural, where each model trains as it would alone.

    spaCy's textcat losses are squared errors on the probabilities, so the gradient the
    component sends back is d = p - y. Each model gets the gradient of its own loss,
    d + (p_model - p) = p_model - y, instead of its share of the mixed one: the two are
    trained exactly as they would be apart (a neural model that fits the training set
    faster cannot crowd out the linear one), and only their predictions are mixed.

    linear_model (Model[List[Doc], Floats2d]): E.g. spacy.TextCatBOW.v3.
    neural_model (Model[List[Doc], Floats2d]): E.g. spacy.TextCatReduce.v1 over ELMo.
    neural_weight (float): w, in [0, 1]: 0 is the linear model alone.
    RETURNS (Model[List[Doc], Floats2d]): Per Doc, the mixed class probabilities.
    """
    if not 0.0 <= neural_weight <= 1.0:
        raise ValueError(f"neural_weight must be in [0, 1], got {neural_weight}")
    return Model(
        "textcat-fusion",
        _forward,
        init=_init,
        layers=[linear_model, neural_model],
        dims={"nO": None},
        attrs={"neural_weight": neural_weight},
    )


def _init(
    model: Model[List[Doc], Floats2d], X: Optional[List[Doc]] = None, Y: Optional[Any] = None
) -> None:
    n_out = model.get_dim("nO") if model.has_dim("nO") else None
    if n_out is None and Y is not None:
        n_out = Y.shape[1]
    for layer in model.layers:
        if n_out is not None and layer.has_dim("nO") is None:
            layer.set_dim("nO", n_out)
        layer.initialize(X=X, Y=Y)
    if n_out is not None:
        model.set_dim("nO", n_out)


def _forward(
    model: Model[List[Doc], Floats2d], docs: List[Doc], is_train: bool
) -> Tuple[Floats2d, Callable[[Floats2d], List[Doc]]]:
    linear, neural = model.layers
    weight = model.attrs["neural_weight"]
    p_linear, bp_linear = linear(docs, is_train)
    p_neural, bp_neural = neural(docs, is_train)
    p = (1.0 - weight) * p_linear + weight * p_neural

    def backprop(d_p: Floats2d) -> List[Doc]:
        # Each model's own loss gradient: p_model - y = d_p + (p_model - p).
        bp_linear(d_p + (p_linear - p))
        bp_neural(d_p + (p_neural - p))
        return docs

    return p, backprop
