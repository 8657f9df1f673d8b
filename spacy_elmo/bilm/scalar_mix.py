"""The per-task weighted mix of biLM layers (docs/how-it-works.md, section 4): the
torch module, and the array functions (numpy or cupy) that the thinc layer
(pipeline/mix.py) and the fixed-weight exports share.
"""

from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import nn


class ScalarMix(nn.Module):
    """`gamma * sum_j softmax(w)_j * h_j`, optionally with each layer normalised first.

    Layer normalisation uses one mean and one variance per layer over every unmasked
    position and dimension of the batch, with no learned gain or bias.
    """

    def __init__(
        self,
        n_layers: int,
        *,
        initial_weights: Optional[Sequence[float]] = None,
        trainable: bool = True,
        layer_norm: bool = False,
        eps: float = 1e-12,
    ) -> None:
        """n_layers (int): Number of layers mixed.
        initial_weights (Optional[Sequence[float]]): Initial w (before the softmax);
            zeros by default, giving a uniform average.
        trainable (bool): Learn w and gamma; when False both stay fixed.
        layer_norm (bool): Normalise each layer before mixing.
        eps (float): Added to the variance in layer normalisation.
        """
        super().__init__()
        weights = (
            torch.zeros(n_layers)
            if initial_weights is None
            else torch.tensor([float(w) for w in initial_weights])
        )
        if weights.shape != (n_layers,):
            raise ValueError(
                f"ScalarMix over {n_layers} layers got {weights.numel()} initial weights"
            )
        self.weights = nn.Parameter(weights, requires_grad=trainable)
        self.gamma = nn.Parameter(torch.ones(1), requires_grad=trainable)
        self.layer_norm = layer_norm
        self.eps = eps

    def forward(self, layers: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mix layers.

        layers (torch.Tensor): (n_layers, ..., dim).
        mask (Optional[torch.Tensor]): Bool (...), True at real positions; needed
            for layer normalisation when there is padding.
        RETURNS (torch.Tensor): (..., dim).
        """
        if layers.shape[0] != self.weights.shape[0]:
            raise ValueError(
                f"ScalarMix expects {self.weights.shape[0]} layers, got {layers.shape[0]}"
            )
        if self.layer_norm:
            layers = self._normalise(layers, mask)
        w = torch.softmax(self.weights, dim=0).to(layers.dtype)
        mixed = torch.tensordot(w, layers, dims=([0], [0]))
        return self.gamma.to(layers.dtype) * mixed

    def _normalise(self, layers: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        dims = tuple(range(1, layers.dim()))
        if mask is None:
            mean = layers.mean(dim=dims, keepdim=True)
            var = ((layers - mean) ** 2).mean(dim=dims, keepdim=True)
        else:
            m = mask.unsqueeze(-1).to(layers.dtype)
            count = m.sum() * layers.shape[-1]
            mean = (layers * m).sum(dim=dims, keepdim=True) / count
            var = (((layers - mean) * m) ** 2).sum(dim=dims, keepdim=True) / count
        out = (layers - mean) / torch.sqrt(var + self.eps)
        if mask is not None:
            out = out * mask.unsqueeze(-1).to(layers.dtype)
        return out


def softmax_weights(weights: Any, xp: Any = np) -> Any:
    """The normalised mix weights softmax(weights), in the weights' dtype.

    weights (Any): (n_layers,) array of the module `xp`.
    xp (Any): numpy or cupy.
    RETURNS (Any): (n_layers,), summing to 1.
    """
    e = xp.exp(weights - weights.max())
    return e / e.sum()


def weighted_sum(s: Any, layers: Any, xp: Any = np) -> Any:
    """sum_j s[j] * layers[j], in the layers' dtype.

    s (Any): (n_layers,) normalised weights (see softmax_weights).
    layers (Any): (n_layers, ...) array of the module `xp`.
    xp (Any): numpy or cupy.
    RETURNS (Any): layers[0]'s shape.
    """
    return xp.tensordot(s.astype(layers.dtype), layers, axes=(0, 0))


def mix_layers(layers: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """The fixed-weight mix of numpy layers: sum_j softmax(weights)_j * layers[j].

    layers (numpy.ndarray): (n_layers, ...).
    weights (Sequence[float]): One weight (before the softmax) per layer.
    RETURNS (numpy.ndarray): layers[0]'s shape and dtype.
    """
    if len(weights) != layers.shape[0]:
        raise ValueError(f"{len(weights)} mix weights for {layers.shape[0]} layers")
    return weighted_sum(softmax_weights(np.asarray(weights, dtype=np.float64)), layers)
