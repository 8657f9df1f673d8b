"""thinc layer: the trainable per-task scalar mix of ELMo layers.

See docs/how-it-works.md, section 4.
"""

from typing import Any, Callable, List, Optional, Sequence, Tuple, cast

from thinc.api import Model
from thinc.types import Floats1d, Floats2d, Floats3d

from ..bilm.scalar_mix import softmax_weights, weighted_sum

LN_EPS = 1e-12  # bilm-tf's epsilon: statistics without BOS/EOS, as here


def ElmoScalarMix(
    *,
    layer_norm: bool = False,
    l2_coef: float = 0.0,
    dropout: float = 0.0,
    initial_weights: Optional[Sequence[float]] = None,
    trainable: bool = True,
) -> Model[List[Floats3d], List[Floats2d]]:
    """`gamma * sum_j softmax(w)_j * h_j` over every layer of each Doc, then dropout.

    The number of layers ("nL") and the width ("nI" = "nO") are set from the biLM
    before initialization. With `layer_norm`, each layer is first normalised with one
    mean and one variance over every token and dimension of the batch (no gain or
    bias; BOS/EOS are not in the layers, as in bilm-tf). `l2_coef` adds
    `l2_coef * sum(w ** 2)` to the objective (its gradient; the term is not reported
    in the losses). The dropout rate is this layer's own (`mix_dropout` attr), not the
    `[training] dropout` that spaCy sets on every other layer.

    layer_norm (bool): Normalise each layer before mixing.
    l2_coef (float): L2 penalty on the mix weights w (bilm-tf's regulariser).
    dropout (float): Dropout on the mixed vectors during training.
    initial_weights (Optional[Sequence[float]]): w before the softmax; zeros (a uniform
        average) by default.
    trainable (bool): Learn w and gamma. When False both stay as initialised (AllenNLP
        freezes gamma too when the user fixes w).
    RETURNS (Model[List[Floats3d], List[Floats2d]]): Per Doc (n_tokens, width).
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"ELMo mix: dropout must be in [0, 1), got {dropout}")
    if l2_coef < 0:
        raise ValueError(f"ELMo mix: l2_coef must be 0 or positive, got {l2_coef}")
    return Model(
        "elmo_scalar_mix",
        _forward,
        init=_init,
        dims={"nL": None, "nI": None, "nO": None},
        params={"W": None, "gamma": None},
        attrs={
            "layer_norm": layer_norm,
            "l2_coef": l2_coef,
            "mix_dropout": dropout,
            "initial_weights": None if initial_weights is None else list(initial_weights),
            "trainable": trainable,
        },
    )


def _init(
    model: Model[List[Floats3d], List[Floats2d]],
    X: Optional[List[Floats3d]] = None,
    Y: Optional[List[Floats2d]] = None,
) -> None:
    if X:
        model.set_dim("nL", int(X[0].shape[0]))
        model.set_dim("nI", int(X[0].shape[2]))
    if not model.has_dim("nL"):
        raise ValueError(
            "The ELMo mix does not know how many layers it mixes: initialize the "
            "'elmo' component (or load its weights) before the components that listen to it"
        )
    if not model.has_dim("nO") and model.has_dim("nI"):
        model.set_dim("nO", model.get_dim("nI"))
    n_layers = model.get_dim("nL")
    initial = model.attrs["initial_weights"]
    weights = model.ops.alloc1f(n_layers)
    if initial is not None:
        if len(initial) != n_layers:
            raise ValueError(
                f"ELMo mix: {len(initial)} initial mix weights for a biLM with {n_layers} layers"
            )
        weights[:] = model.ops.asarray1f(initial)
    model.set_param("W", weights)
    model.set_param("gamma", model.ops.asarray1f([1.0]))


def _forward(
    model: Model[List[Floats3d], List[Floats2d]], X: List[Floats3d], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], List[Floats3d]]]:
    ops, xp = model.ops, model.ops.xp
    W = cast(Floats1d, model.get_param("W"))
    gamma = float(model.get_param("gamma")[0])
    n_layers, width = model.get_dim("nL"), model.get_dim("nO")
    for x in X:
        if x.ndim != 3 or x.shape[0] != n_layers or x.shape[2] != width:
            raise ValueError(
                f"The ELMo mix expects ({n_layers}, n_tokens, {width}) layers per Doc, "
                f"got {tuple(x.shape)}: was the biLM changed after the mix was initialized?"
            )
    lengths = [int(x.shape[1]) for x in X]
    if X:
        Xc = xp.concatenate([xp.asarray(x, dtype="float32") for x in X], axis=1)
    else:
        Xc = ops.alloc3f(n_layers, 0, width)
    n_tokens = Xc.shape[1]
    std = None
    if model.attrs["layer_norm"] and n_tokens:
        mean = Xc.mean(axis=(1, 2), keepdims=True)
        var = ((Xc - mean) ** 2).mean(axis=(1, 2), keepdims=True)
        std = xp.sqrt(var + LN_EPS)
        Xc = (Xc - mean) / std
    s: Any = softmax_weights(W, xp)
    mixed = weighted_sum(s, Xc, xp)  # (n_tokens, width)
    Yc = gamma * mixed
    rate = model.attrs["mix_dropout"] if is_train else 0.0
    mask = ops.get_dropout_mask(Yc.shape, rate) if rate else None
    if mask is not None:
        Yc = Yc * mask
    Y = _split(ops, Yc, lengths)

    def backprop(dY: List[Floats2d]) -> List[Floats3d]:
        dYc: Any = xp.concatenate(dY, axis=0) if dY else ops.alloc2f(0, width)
        if mask is not None:
            dYc = dYc * mask
        if model.attrs["trainable"]:
            # Y = gamma * mixed, so dgamma = sum(dY * mixed).
            d_gamma = float((dYc * mixed).sum())
            # mixed = sum_j s_j * X_j, so ds_j = gamma * sum(dY * X_j). Through the
            # softmax (Jacobian diag(s) - s s^T): dw = s * (ds - sum_k s_k * ds_k);
            # the L2 term l2_coef * sum(w ** 2) adds 2 * l2_coef * w.
            d_s = gamma * xp.tensordot(Xc, dYc, axes=([1, 2], [0, 1]))  # (n_layers,)
            dW = s * (d_s - (s * d_s).sum())
            dW = dW + 2.0 * model.attrs["l2_coef"] * W
            model.inc_grad("W", dW.astype("float32"))
            model.inc_grad("gamma", ops.asarray1f([d_gamma]))
        # Each layer's share of the mix: dX_j = gamma * s_j * dY.
        dXc = gamma * s[:, None, None] * dYc[None]
        if std is not None:
            # Through x_hat = (x - mean) / std (Xc holds x_hat here), with mean and var
            # over all N elements of a layer: dx = (dx_hat - mean(dx_hat)
            # - x_hat * mean(dx_hat * x_hat)) / std; the two means are the gradient
            # through the mean and through the variance.
            dXc = (
                dXc
                - dXc.mean(axis=(1, 2), keepdims=True)
                - Xc * (dXc * Xc).mean(axis=(1, 2), keepdims=True)
            ) / std
        return _split3(ops, dXc, lengths)

    return Y, backprop


def _split(ops, Yc: Floats2d, lengths: List[int]) -> List[Floats2d]:
    out, start = [], 0
    for n in lengths:
        out.append(ops.as_contig(Yc[start : start + n]))
        start += n
    return out


def _split3(ops, Xc: Floats3d, lengths: List[int]) -> List[Floats3d]:
    out, start = [], 0
    for n in lengths:
        out.append(ops.as_contig(Xc[:, start : start + n]))
        start += n
    return out
