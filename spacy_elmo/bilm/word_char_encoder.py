"""The token layer of ELMoForManyLangs models: a word embedding beside the character
CNN, projected together."""

from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from .char_encoder import CharacterEncoder


class WordCharEncoder(nn.Module):
    """Map word ids and character ids to token vectors: the projection of
    [word embedding; highway(CNN(characters))] with a bias (docs/languages.md).

    The character part is a `CharacterEncoder` without its own projection, so its
    highway layers hold bilm-tf's [transform | carry] layout: reading their files
    negates their gate half (sigmoid(-z) = 1 - sigmoid(z) turns their gate on the
    input into our gate on the transform).
    """

    def __init__(
        self,
        *,
        n_words: int,
        word_dim: int,
        n_characters: int,
        char_dim: int,
        filters: Sequence[Tuple[int, int]],
        n_highway: int,
        output_dim: int,
        activation: str = "relu",
    ) -> None:
        """Create an encoder with random weights.

        n_words (int): Rows of the word embedding (0 with word_dim 0).
        word_dim (int): Width of a word embedding; 0 for none.
        n_characters (int): Rows of the character embedding (0 with char_dim 0).
        char_dim (int): Width of a character embedding; 0 for no character CNN.
        filters (Sequence[Tuple[int, int]]): (width, n_filters) per convolution.
        n_highway (int): Number of highway layers.
        output_dim (int): Width of the token vectors.
        activation (str): "relu" or "tanh", after the max over positions.
        """
        super().__init__()
        if word_dim <= 0 and char_dim <= 0:
            raise ValueError("A token layer needs a word embedding, a character CNN or both")
        self.word_embed: Optional[nn.Parameter] = None
        if word_dim > 0:
            self.word_embed = nn.Parameter(torch.empty(n_words, word_dim).uniform_(-0.25, 0.25))
        self.chars: Optional[CharacterEncoder] = None
        n_filters = 0
        if char_dim > 0:
            n_filters = sum(n for _, n in filters)
            self.chars = CharacterEncoder(
                n_characters=n_characters,
                char_dim=char_dim,
                filters=filters,
                n_highway=n_highway,
                output_dim=n_filters,
                activation=activation,
                project=False,
            )
        self.word_dim = max(word_dim, 0)
        self.output_dim = output_dim
        limit = (self.word_dim + n_filters) ** -0.5
        self.proj_weight = nn.Parameter(
            torch.empty(self.word_dim + n_filters, output_dim).uniform_(-limit, limit)
        )
        self.proj_bias = nn.Parameter(torch.zeros(output_dim))

    def forward(self, word_ids: torch.Tensor, char_ids: torch.Tensor) -> torch.Tensor:
        """Encode tokens.

        word_ids (torch.Tensor): Long (n_tokens,); ignored without a word embedding.
        char_ids (torch.Tensor): Long (n_tokens, max_chars); ignored without a CNN.
        RETURNS (torch.Tensor): Token vectors (n_tokens, output_dim).
        """
        parts = []
        if self.word_embed is not None:
            parts.append(self.word_embed[word_ids])
        if self.chars is not None:
            parts.append(self.chars(char_ids))
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return torch.addmm(self.proj_bias, x, self.proj_weight)
