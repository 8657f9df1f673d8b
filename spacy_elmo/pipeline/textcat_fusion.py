"""Late fusion of two text classifiers: each trained on its own loss, their
probabilities mixed with a weight chosen on dev, so that adding ELMo to a lexical
model cannot take the lexical model's signal away."""

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

from spacy.pipeline import TextCategorizer
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Model
from thinc.types import Floats2d

from .config_errors import ElmoConfigError

if TYPE_CHECKING:
    from spacy.language import Language

# The neural weights choose_neural_weight tries by default: 0 is the lexical model alone.
WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


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
    p = _mix(p_linear, p_neural, weight)

    def backprop(d_p: Floats2d) -> List[Doc]:
        # Each model's own loss gradient: p_model - y = d_p + (p_model - p).
        bp_linear(d_p + (p_linear - p))
        bp_neural(d_p + (p_neural - p))
        return docs

    return p, backprop


def _mix(p_linear: Floats2d, p_neural: Floats2d, weight: float) -> Floats2d:
    """The fused probabilities: (1 - weight) * p_linear + weight * p_neural."""
    return (1.0 - weight) * p_linear + weight * p_neural


def choose_neural_weight(
    nlp: "Language",
    examples: Sequence[Example],
    component: str = "textcat",
    weights: Sequence[float] = WEIGHTS,
) -> Tuple[float, Dict[float, float]]:
    """Set the neural weight of a TextCatFusion component to the one that scores best
    on `examples` (the component's own score, `cats_score`), the smallest on a tie, so
    ELMo only moves the lexical model's predictions as far as dev data says it helps.

    Each model predicts once; the weights only change the mix. The weight is a model
    attribute, saved and loaded with the pipeline.

    nlp (Language): The pipeline, with the components before `component` that its
        models read (e.g. `elmo`).
    examples (Sequence[Example]): Dev examples with gold cats.
    component (str): The textcat or textcat_multilabel component to tune.
    weights (Sequence[float]): The weights to try, each in [0, 1].
    RETURNS (Tuple[float, Dict[float, float]]): The chosen weight and each weight's score.
    """
    pipe = _fusion_pipe(nlp, component)
    model = pipe.model
    if not examples:
        raise ValueError(f"No examples to choose {component}'s neural_weight on")
    bad = [w for w in weights if not 0.0 <= w <= 1.0]
    if not weights or bad:
        raise ElmoConfigError(f"neural_weight candidates must be in [0, 1], got {list(weights)}")
    # The components before this one (e.g. `elmo`) annotate copies of the dev Docs.
    after = nlp.pipe_names[nlp.pipe_names.index(component) :]
    docs = list(nlp.pipe((eg.predicted.copy() for eg in examples), disable=after))
    linear, neural = model.layers
    p_linear = model.ops.to_numpy(linear.predict(docs))
    p_neural = model.ops.to_numpy(neural.predict(docs))
    scores: Dict[float, float] = {}
    for weight in weights:
        probs = _mix(p_linear, p_neural, weight)
        scored = []
        for doc, row, eg in zip(docs, probs, examples):
            doc.cats = {label: float(p) for label, p in zip(pipe.labels, row)}
            scored.append(Example(doc, eg.reference))
        scores[float(weight)] = float(pipe.score(scored)["cats_score"])
    # max() keeps the first of equal scores: sort the weights so that it is the smallest.
    best = max(sorted(scores), key=lambda w: scores[w])
    model.attrs["neural_weight"] = best
    return best, scores


def _fusion_pipe(nlp: "Language", component: str) -> TextCategorizer:
    if component not in nlp.pipe_names:
        raise ElmoConfigError(f"No component {component!r} in the pipeline {nlp.pipe_names}")
    pipe = nlp.get_pipe(component)
    name = pipe.model.name if isinstance(pipe, TextCategorizer) else type(pipe).__name__
    if name != "textcat-fusion":
        raise ElmoConfigError(
            f"{component}'s model is {name!r}, not spacy-elmo.TextCatFusion.v1: "
            "only a fusion model has a neural_weight to choose"
        )
    return cast(TextCategorizer, pipe)
