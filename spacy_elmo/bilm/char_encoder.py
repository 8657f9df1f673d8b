"""The context-free token layer: character CNN, highway layers and projection."""

from typing import Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


class CharacterEncoder(nn.Module):
    """Map the character ids of tokens to token vectors (docs/how-it-works.md, section 2).

    Parameters keep the values of the original weight file exactly; only their
    layout differs (convolutions are PyTorch's (out, in, width), and each highway
    layer holds [W_transform | W_carry] in one (in, 2 * in) matrix, applied as
    `x @ W`), so a model written back gives bit-identical datasets.
    """

    def __init__(
        self,
        *,
        n_characters: int,
        char_dim: int,
        filters: Sequence[Tuple[int, int]],
        n_highway: int,
        output_dim: int,
        activation: str = "relu",
        project: Optional[bool] = None,
    ) -> None:
        """Create a randomly initialised encoder (bilm-tf's initialisation).

        n_characters (int): Rows of the character table, padding row 0 included.
        char_dim (int): Width of a character embedding.
        filters (Sequence[Tuple[int, int]]): (width, n_filters) per convolution.
        n_highway (int): Number of highway layers.
        output_dim (int): Width of the token vectors.
        activation (str): "relu" or "tanh", applied after the max over positions.
        project (Optional[bool]): Whether to apply a projection. Defaults to True
            unless the filters' total width already equals output_dim.
        """
        super().__init__()
        self.chunk_size = 128
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Unknown char_cnn activation {activation!r}: expected one of {sorted(ACTIVATIONS)}"
            )
        self.activation = activation
        self.filters = [(int(w), int(n)) for w, n in filters]
        n_filters = sum(n for _, n in self.filters)
        if project is None:
            project = n_filters != output_dim
        if not project and n_filters != output_dim:
            raise ValueError(
                f"Without a projection the filters' total width ({n_filters}) "
                f"must equal the output dim ({output_dim})"
            )
        self.n_filters = n_filters
        self.output_dim = output_dim
        self.char_embed = nn.Parameter(torch.empty(n_characters, char_dim))
        self.conv_weights = nn.ParameterList(
            nn.Parameter(torch.empty(n, char_dim, w)) for w, n in self.filters
        )
        self.conv_biases = nn.ParameterList(nn.Parameter(torch.empty(n)) for _, n in self.filters)
        self.highway_weights = nn.ParameterList(
            nn.Parameter(torch.empty(n_filters, 2 * n_filters)) for _ in range(n_highway)
        )
        self.highway_biases = nn.ParameterList(
            nn.Parameter(torch.empty(2 * n_filters)) for _ in range(n_highway)
        )
        self.proj_weight: Optional[nn.Parameter] = None
        self.proj_bias: Optional[nn.Parameter] = None
        if project:
            self.proj_weight = nn.Parameter(torch.empty(n_filters, output_dim))
            self.proj_bias = nn.Parameter(torch.empty(output_dim))
        self.reset_parameters()

    @property
    def n_highway(self) -> int:
        return len(self.highway_weights)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise as bilm-tf does: chars U(-1, 1), CNN U(-0.05, 0.05), highway and
        projection N(0, 1/sqrt(n_filters)), carry bias -2, other biases 0."""
        self.char_embed.uniform_(-1.0, 1.0)
        self.char_embed[0].zero_()
        for weight, bias in zip(self.conv_weights, self.conv_biases):
            weight.uniform_(-0.05, 0.05)
            bias.zero_()
        std = self.n_filters**-0.5
        for weight, bias in zip(self.highway_weights, self.highway_biases):
            weight.normal_(0.0, std)
            bias.zero_()
            bias[self.n_filters :] = -2.0
        if self.proj_weight is not None and self.proj_bias is not None:
            self.proj_weight.normal_(0.0, std)
            self.proj_bias.zero_()

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Encode tokens, a bounded chunk at a time (the convolutions' outputs are
        large: about 370 KB per token for the published filters).

        char_ids (torch.Tensor): Long ids (n_tokens, max_chars); 0 is padding.
        RETURNS (torch.Tensor): Token vectors (n_tokens, output_dim).
        """
        if char_ids.shape[0] <= self.chunk_size:
            return self._encode(char_ids)
        return torch.cat([self._encode(chunk) for chunk in char_ids.split(self.chunk_size)])

    def _encode(self, char_ids: torch.Tensor) -> torch.Tensor:
        chars = F.embedding(char_ids, self.char_embed).transpose(1, 2)
        activation = ACTIVATIONS[self.activation]
        # Max over positions first, then the activation (both are monotonic, so
        # this equals the original's order and saves work).
        pooled = [
            F.conv1d(chars, weight, bias).amax(dim=2)
            for weight, bias in zip(self.conv_weights, self.conv_biases)
        ]
        x = activation(torch.cat(pooled, dim=1))
        for weight, bias in zip(self.highway_weights, self.highway_biases):
            transform, carry = torch.addmm(bias, x, weight).chunk(2, dim=1)
            gate = torch.sigmoid(carry)
            x = gate * torch.relu(transform) + (1.0 - gate) * x
        if self.proj_weight is not None and self.proj_bias is not None:
            x = torch.addmm(self.proj_bias, x, self.proj_weight)
        return x
