"""Stacked forward and backward LSTMs with projection and clipping.

See docs/how-it-works.md, section 3.
"""

import math
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

LstmState = Tuple[torch.Tensor, torch.Tensor]


class ProjectedBiLstm(nn.Module):
    """Two independent stacks of LSTM layers with projection, cell and projection
    clipping and residual connections: one reads the sentence forward, one backward.

    Both directions run in the same batched matrix multiplies. Sequences are packed
    time-major (the rows of a time step are the sentences still running, longest
    first), so no work is spent on padding and each row's final state is the state
    after its own last step.

    State: the initial and final (h, c) hold one row per sequence, in the packed row
    order (row r is the r-th longest). Padding is never computed, so it needs no
    masking and cannot leak into a state. The caller decides what carries over:
    `ElmoBiLM` in stateful mode maps its batch rows onto these rows, and pretraining
    passes each window's final state into the next window of the same rows.

    Parameters are stacked over the direction (dimension 0). Gate blocks are kept in
    the order i, f, o, g (the weight file's order is i, g, f, o) and the bias holds
    the stored values: TensorFlow's +1 on the forget gate (`forget_bias`) is added at
    run time, so saving the model writes the stored values back exactly.
    """

    # Most packed rows whose input-to-gate products are held at once, per direction.
    gate_block_rows = 512

    def __init__(
        self,
        *,
        input_dim: int,
        dim: int,
        projection_dim: int,
        n_layers: int,
        cell_clip: Optional[float] = None,
        proj_clip: Optional[float] = None,
        use_skip_connections: bool = False,
        project: Optional[bool] = None,
        forget_bias: float = 1.0,
    ) -> None:
        """Create a randomly initialised stack (TensorFlow's Glorot init, zero bias).

        input_dim (int): Width of the token vectors.
        dim (int): LSTM cell size.
        projection_dim (int): Width of the projected hidden state.
        n_layers (int): Layers per direction.
        cell_clip (Optional[float]): Clip the cell to [-cell_clip, cell_clip].
        proj_clip (Optional[float]): Clip the projected state to [-proj_clip, proj_clip].
        use_skip_connections (bool): Add each layer's input to its output (layers >= 1).
        project (Optional[bool]): Whether there is a projection; defaults to
            projection_dim != dim (bilm-tf has none when they are equal).
        forget_bias (float): Added to the forget gate's stored bias at run time: 1.0
            for bilm-tf's weights (TensorFlow's LSTMCell), 0.0 for weights trained
            in PyTorch, whose bias holds it already (ELMoForManyLangs).
        """
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"An ELMo biLM needs at least one LSTM layer, got n_layers={n_layers}")
        if project is None:
            project = projection_dim != dim
        if not project and projection_dim != dim:
            raise ValueError(
                f"Without a projection, projection_dim ({projection_dim}) must equal dim ({dim})"
            )
        self.input_dim = input_dim
        self.dim = dim
        self.projection_dim = projection_dim
        self.cell_clip = cell_clip
        self.proj_clip = proj_clip
        self.use_skip_connections = use_skip_connections
        sizes = [input_dim] + [projection_dim] * (n_layers - 1)
        self.input_weights = nn.ParameterList(
            nn.Parameter(torch.empty(2, size, 4 * dim)) for size in sizes
        )
        self.state_weights = nn.ParameterList(
            nn.Parameter(torch.empty(2, projection_dim, 4 * dim)) for _ in sizes
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(2, 4 * dim)) for _ in sizes)
        self.proj_weights = nn.ParameterList(
            nn.Parameter(torch.empty(2, dim, projection_dim)) for _ in (sizes if project else [])
        )
        forget = torch.zeros(4 * dim)
        forget[dim : 2 * dim] = forget_bias
        self.forget_bias = forget_bias
        self.register_buffer("forget_offset", forget, persistent=False)
        self.reset_parameters()

    @property
    def n_layers(self) -> int:
        return len(self.input_weights)

    @property
    def has_projection(self) -> bool:
        return len(self.proj_weights) > 0

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """TensorFlow's defaults: Glorot uniform over the combined kernel, zero bias."""
        for layer in range(self.n_layers):
            w_in, w_state = self.input_weights[layer], self.state_weights[layer]
            limit = math.sqrt(6.0 / (w_in.shape[1] + w_state.shape[1] + 4 * self.dim))
            w_in.uniform_(-limit, limit)
            w_state.uniform_(-limit, limit)
            self.biases[layer].zero_()
            if self.has_projection:
                limit = math.sqrt(6.0 / (self.dim + self.projection_dim))
                self.proj_weights[layer].uniform_(-limit, limit)

    def forward(
        self,
        inputs: torch.Tensor,
        batch_sizes: Sequence[int],
        index: Optional[torch.Tensor] = None,
        state: Optional[LstmState] = None,
        dropout: float = 0.0,
    ) -> Tuple[List[torch.Tensor], LstmState]:
        """Run both directions over packed sequences.

        inputs (torch.Tensor): Packed inputs (2, n_packed, input_dim), or with `index`
            a table (n_rows, input_dim) shared by both directions.
        batch_sizes (Sequence[int]): Rows running at each time step, non-increasing.
        index (Optional[torch.Tensor]): Long (2, n_packed): the table row of each packed
            position. The input-to-gate products are then computed once per table row
            (when the table has at most `gate_block_rows` rows).
        state (Optional[LstmState]): Initial (h, c), (n_layers, 2, batch_sizes[0], dim)
            each for h of width projection_dim; zeros when None.
        RETURNS (Tuple[List[torch.Tensor], LstmState]): Each layer's packed output
            (2, n_packed, projection_dim), residuals included, and the final (h, c) of
            every row, taken after its own last step (h without the residual).
        dropout (float): Dropout on every layer's input, as bilm-tf trains (the residual
            then adds the dropped-out input); only applied in training mode.
        """
        n_rows = batch_sizes[0] if len(batch_sizes) else 0
        outputs: List[torch.Tensor] = []
        finals_h: List[torch.Tensor] = []
        finals_c: List[torch.Tensor] = []
        x = inputs
        dropout = dropout if self.training else 0.0
        if index is not None and (inputs.shape[0] > self.gate_block_rows or dropout > 0):
            # A large table, or per-position dropout: pack first (this also keeps the
            # gate memory bounded).
            x = inputs[index]
            index = None
        for layer in range(self.n_layers):
            if dropout > 0:
                x = F.dropout(x, dropout, training=True)
            bias = (self.biases[layer] + self.forget_offset).unsqueeze(1)
            w_in = self.input_weights[layer]
            if layer == 0 and index is not None:
                gates_in = self._gathered_gates(x, index, bias, w_in, batch_sizes)
            else:
                gates_in = self._blocked_gates(x, bias, w_in, batch_sizes)
            if state is None:
                h0 = x.new_zeros(2, n_rows, self.projection_dim)
                c0 = x.new_zeros(2, n_rows, self.dim)
            else:
                h0, c0 = state[0][layer], state[1][layer]
            out, h_n, c_n = self._run_layer(gates_in, batch_sizes, layer, h0, c0)
            finals_h.append(h_n)
            finals_c.append(c_n)
            if layer > 0 and self.use_skip_connections:
                out = out + x
            outputs.append(out)
            x = out
        return outputs, (torch.stack(finals_h), torch.stack(finals_c))

    def _gathered_gates(
        self,
        table: torch.Tensor,
        index: torch.Tensor,
        bias: torch.Tensor,
        w_in: torch.Tensor,
        batch_sizes: Sequence[int],
    ) -> Iterator[torch.Tensor]:
        """Input-to-gate products computed once per table row (one matrix multiply),
        then gathered step by step."""
        gates = torch.baddbmm(bias, table.expand(2, -1, -1), w_in)
        width = gates.shape[-1]
        gates = gates.reshape(-1, width)
        index = index + torch.arange(2, device=index.device).unsqueeze(1) * table.shape[0]
        # Without autograd, every step gathers into one reused buffer.
        buffer = None if torch.is_grad_enabled() else gates.new_empty(2 * batch_sizes[0] * width)
        start = 0
        for n in batch_sizes:
            rows = index[:, start : start + n].reshape(-1)
            if buffer is None:
                yield gates[rows].view(2, n, width)
            else:
                out = buffer[: 2 * n * width].view(2 * n, width)
                yield torch.index_select(gates, 0, rows, out=out).view(2, n, width)
            start += n

    def _blocked_gates(
        self,
        x: torch.Tensor,
        bias: torch.Tensor,
        w_in: torch.Tensor,
        batch_sizes: Sequence[int],
    ) -> Iterator[torch.Tensor]:
        """Input-to-gate products of many time steps per matrix multiply: all of them,
        unless that exceeds `gate_block_rows` packed rows, which bounds the memory."""
        step = 0
        start = 0
        while step < len(batch_sizes):
            end, rows = step, 0
            while end < len(batch_sizes) and (
                rows == 0 or rows + batch_sizes[end] <= self.gate_block_rows
            ):
                rows += batch_sizes[end]
                end += 1
            block = torch.baddbmm(bias, x[:, start : start + rows], w_in)
            offset = 0
            for n in batch_sizes[step:end]:
                yield block[:, offset : offset + n]
                offset += n
            del block  # before the next block is computed
            start += rows
            step = end

    def _run_layer(
        self,
        gates_in: Iterator[torch.Tensor],
        batch_sizes: Sequence[int],
        layer: int,
        h: torch.Tensor,
        c: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The recurrence of one layer, given each step's input-to-gate products."""
        w_state = self.state_weights[layer]
        w_proj = self.proj_weights[layer] if self.has_projection else None
        inplace = not torch.is_grad_enabled()
        steps: List[torch.Tensor] = []
        done_h: List[torch.Tensor] = []
        done_c: List[torch.Tensor] = []
        for n, step_in in zip(batch_sizes, gates_in):
            if n < h.shape[1]:
                # Rows n.. ended at the previous step: keep their final state. Rows end
                # from the last one backwards, so the reversed chunks are in row order.
                done_h.append(h[:, n:])
                done_c.append(c[:, n:])
                h, c = h[:, :n], c[:, :n]
            if inplace:  # step_in is a scratch buffer or a view of a block: reuse it
                gates = step_in.baddbmm_(h, w_state)
            else:
                gates = torch.baddbmm(step_in, h, w_state)
            c, m = self._cell(gates, c, inplace)
            h = torch.bmm(m, w_proj) if w_proj is not None else m
            # Projection clipping, as TensorFlow's LSTMCell(proj_clip=...) that bilm-tf
            # uses: the projected h is clamped after every step, so the layer's output
            # and the h fed back into the next step are both bounded. TensorFlow only
            # clips a projection, hence nothing without one.
            if self.proj_clip is not None and w_proj is not None:
                h = torch.clamp(h, -self.proj_clip, self.proj_clip)
            steps.append(h)
            del step_in  # lets the gate generator free its block
        done_h.append(h)
        done_c.append(c)
        out = torch.cat(steps, dim=1) if steps else h.new_zeros(2, 0, self.projection_dim)
        return out, torch.cat(done_h[::-1], dim=1), torch.cat(done_c[::-1], dim=1)

    def _cell(
        self, gates: torch.Tensor, c: torch.Tensor, inplace: bool
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The new cell and the output before projection, o * tanh(c), from the gate
        pre-activations (blocks i, f, o, g). Without autograd (`inplace`), the gate
        buffer is reused, which keeps allocations (and memory fragmentation) low.

        Cell clipping, as TensorFlow's LSTMCell(cell_clip=...) in bilm-tf: the new cell
        f * c + i * g is clamped before o * tanh(c) is taken, and the clamped cell is
        what the next step starts from. Over long runs of carried state (training unrolls
        window after window without a reset) this keeps the cell from drifting without
        bound; the published weights were trained with it, so their outputs need it too.
        """
        d = self.dim
        if inplace:
            ifo = gates[..., : 3 * d].sigmoid_()
            g = gates[..., 3 * d :].tanh_()
            c = torch.mul(ifo[..., d : 2 * d], c).addcmul_(ifo[..., :d], g)
            if self.cell_clip is not None:
                c.clamp_(-self.cell_clip, self.cell_clip)
            return c, torch.tanh(c).mul_(ifo[..., 2 * d :])
        ifo = torch.sigmoid(gates[..., : 3 * d])
        g = torch.tanh(gates[..., 3 * d :])
        c = torch.addcmul(ifo[..., d : 2 * d] * c, ifo[..., :d], g)
        if self.cell_clip is not None:
            c = torch.clamp(c, -self.cell_clip, self.cell_clip)
        return c, ifo[..., 2 * d :] * torch.tanh(c)
