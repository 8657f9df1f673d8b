"""The biLM's training objective: `0.5 * (forward NLL + backward NLL)` over a window
of both streams, the token layer and the softmax shared by both directions."""

from typing import NamedTuple, Optional

import torch
from torch import nn
from torch.nn import functional as F

from ..bilm.lstm import LstmState
from ..bilm.model import ElmoBiLM
from ..bilm.softmax import LMSoftmax
from .batches import Window


class WindowResult(NamedTuple):
    """What one window gives.

    loss (torch.Tensor): The objective (training) or the summed negative
        log-likelihood of both directions (evaluation), a scalar.
    forward_nll (torch.Tensor): Forward direction's mean (training) or summed NLL.
    backward_nll (torch.Tensor): Backward direction's, likewise.
    state (LstmState): The final LSTM state, detached, to start the next window from.
    """

    loss: torch.Tensor
    forward_nll: torch.Tensor
    backward_nll: torch.Tensor
    state: LstmState


class BiLanguageModel(nn.Module):
    """An ElmoBiLM plus the output layer that predicts the next (forward) and the
    previous (backward) word from its top layer.

    bilm (ElmoBiLM): The model being trained; what the weight files hold.
    softmax (LMSoftmax): The output layer.
    dropout (float): Dropout on every LSTM layer's input and before the softmax.
    """

    def __init__(self, bilm: ElmoBiLM, softmax: LMSoftmax, dropout: float = 0.1) -> None:
        super().__init__()
        self.bilm = bilm
        self.softmax = softmax
        self.dropout = dropout

    def forward(self, window: Window, state: Optional[LstmState]) -> WindowResult:
        """Training objective of one window (means over its positions).

        window (Window): The data, as made by `StreamBatcher`.
        state (Optional[LstmState]): The state carried from the previous window.
        RETURNS (WindowResult): Loss, per-direction NLL and the next state.
        """
        top, final = self._top_layer(window, state)
        targets = self._time_major(torch.from_numpy(window.targets), top.device)
        top = F.dropout(top, self.dropout, training=self.training)
        forward_nll = self.softmax.loss(top[0], targets[0])
        backward_nll = self.softmax.loss(top[1], targets[1])
        return WindowResult(0.5 * (forward_nll + backward_nll), forward_nll, backward_nll, final)

    @torch.no_grad()
    def log_likelihood(self, window: Window, state: Optional[LstmState]) -> WindowResult:
        """Exact summed negative log-likelihood of a window (full normalisation).

        RETURNS (WindowResult): Summed NLL of both directions, of each, and the state.
        """
        top, final = self._top_layer(window, state)
        targets = self._time_major(torch.from_numpy(window.targets), top.device)
        forward_nll = -self.softmax.log_likelihood(top[0], targets[0]).double().sum()
        backward_nll = -self.softmax.log_likelihood(top[1], targets[1]).double().sum()
        return WindowResult(forward_nll + backward_nll, forward_nll, backward_nll, final)

    def _top_layer(self, window: Window, state: Optional[LstmState]):
        device = self.bilm.boundary_ids.device
        table = self.bilm.char_encoder(torch.from_numpy(window.chars).to(device))
        index = self._time_major(torch.from_numpy(window.inputs), device)
        batch, steps = window.inputs.shape[1:]
        outputs, (h, c) = self.bilm.lstm(
            table, [batch] * steps, index=index, state=state, dropout=self.dropout
        )
        return outputs[-1], (h.detach(), c.detach())

    @staticmethod
    def _time_major(x: torch.Tensor, device: torch.device) -> torch.Tensor:
        """(2, batch, steps) -> (2, steps * batch), the LSTM's packed order."""
        return x.transpose(1, 2).reshape(2, -1).to(device)
