"""The per-task ELMo head: a learned scalar mix of the biLM layers (and an optional
projection) over a listener or an embedded biLM, one vector per token."""

from typing import Any, Callable, List, Optional, Tuple

from spacy.tokens import Doc
from thinc.api import Linear, Model, with_array
from thinc.types import Floats2d, Floats3d

from .config_errors import ElmoConfigError
from .mix import ElmoScalarMix


def ElmoFeatures(
    source: Model[List[Doc], List[Floats3d]],
    *,
    width: int,
    layer_norm: bool,
    l2_coef: float,
    mix_dropout: float,
    mix_weights: Optional[List[float]],
    trainable_mix: bool,
    projection: Optional[int],
) -> Model[List[Doc], List[Floats2d]]:
    """The per-task mix (and optional projection) over a source of biLM layers
    (an ElmoListener or ElmoEmbedded): one vector per token.

    `replace_listeners` swaps the listener for an ElmoEmbedded copy of the upstream
    biLM; the mix and projection stay, so the two layouts are the same model.
    """
    mix = ElmoScalarMix(
        layer_norm=layer_norm,
        l2_coef=l2_coef,
        dropout=mix_dropout,
        initial_weights=mix_weights,
        trainable=trainable_mix,
    )
    layers: List[Model] = [source, mix]
    if projection:
        layers.append(with_array(Linear(nO=projection, nI=width)))
    return Model(
        "elmo-features",
        _features_forward,
        init=_features_init,
        layers=layers,
        dims={"nO": projection or width},
        attrs={"width": width},
    )


def _features_init(model: Model, X: Any = None, Y: Any = None) -> None:
    source, mix, *projection = model.layers
    source.initialize()
    width = model.attrs["width"]
    if source.get_dim("nO") != width:
        raise ElmoConfigError(
            f"The ELMo features are configured with width = {width}, but the biLM gives "
            f"{source.get_dim('nO')}-wide layers: set width = {source.get_dim('nO')} "
            f"(with the shipped configs, --variables.elmo_width {source.get_dim('nO')} on "
            "the spacy train command line)"
        )
    if source.has_dim("nL"):
        mix.set_dim("nL", source.get_dim("nL"))
    mix.set_dim("nI", width)
    mix.set_dim("nO", width)
    mix.initialize()
    for layer in projection:
        layer.initialize()


def _features_forward(
    model: Model[List[Doc], List[Floats2d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], List[Doc]]]:
    source, mix, *projection = model.layers
    layers, bp_source = source(docs, is_train)
    Y, bp_mix = mix(layers, is_train)
    bp_projection = None
    if projection:
        Y, bp_projection = projection[0](Y, is_train)

    def backprop(dY: List[Floats2d]) -> List[Doc]:
        if bp_projection is not None:
            dY = bp_projection(dY)
        return bp_source(bp_mix(dY))

    return Y, backprop
