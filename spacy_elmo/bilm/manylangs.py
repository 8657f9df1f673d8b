"""The biLM of ELMoForManyLangs (HIT-SCIR): ELMo's LSTMs over a word+character
token layer whose inputs come from dictionaries."""

from typing import List

import torch
from torch import nn

from ..errors import ElmoFormatError
from .dictionaries import BOS_TOKEN, EOS_TOKEN, TokenDictionaries
from .model import DEFAULT_TOKEN_CACHE_SIZE, BiLMOutput, ElmoBiLM
from .options import ElmoOptions
from .word_char_encoder import WordCharEncoder


class ManyLangsBiLM(ElmoBiLM):
    """An ELMoForManyLangs biLM (docs/languages.md). It returns the same layers as
    `ElmoBiLM` (the token layer twice, then [forward; backward] per LSTM layer) and
    is used in the same places; what differs is its token layer (`WordCharEncoder`,
    fed by `TokenDictionaries`), its sentence boundaries ("<bos>", "<eos>") and its
    LSTM bias, which was trained in PyTorch and holds the forget bias itself.

    Stateless by default, like `ElmoBiLM`. Their reference package is stateful: its
    encoder starts each batch from the final states of the previous one.
    """

    bos_token = BOS_TOKEN
    eos_token = EOS_TOKEN

    def __init__(
        self,
        options: ElmoOptions,
        dictionaries: TokenDictionaries,
        *,
        word_dim: int,
        architecture: dict,
        stateful: bool = False,
        token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
    ) -> None:
        """Create a biLM with random weights.

        options (ElmoOptions): The sizes; `n_characters` is the rows of the
            character embedding, `char_dim` 0 for a model without a character CNN.
        dictionaries (TokenDictionaries): The word and character lexicons.
        word_dim (int): Width of the word embedding; 0 for none.
        architecture (dict): Their architecture JSON, kept to write the model back.
        stateful (bool): Carry the LSTM state from batch to batch.
        token_cache_size (int): Token-layer cache size (see ElmoBiLM).
        """
        # ElmoBiLM.__init__ would build a bilm-tf character CNN: skip to nn.Module's.
        nn.Module.__init__(self)
        self.dictionaries = dictionaries
        self.architecture = architecture
        self.token_encoder = WordCharEncoder(
            n_words=len(dictionaries.words),
            word_dim=word_dim,
            n_characters=options.n_characters,
            char_dim=options.char_dim,
            filters=options.filters,
            n_highway=options.n_highway,
            output_dim=options.projection_dim,
            activation=options.activation,
        )
        # Their LSTM cell always projects, and its forget bias is stored, not added.
        self._init_contextual(options, stateful, token_cache_size, forget_bias=0.0, project=True)

    def token_layer(self) -> nn.Module:
        return self.token_encoder

    def forward(self, char_ids: torch.Tensor) -> BiLMOutput:
        """Not available: these models read token strings (`embed_tokens`), as their
        character ids come from the model's own dictionary."""
        raise ElmoFormatError(
            "An ELMoForManyLangs biLM reads token strings, not bilm-tf character ids: "
            "use embed_tokens(sentences)"
        )

    def _encode_strings(self, strings: List[str]) -> torch.Tensor:
        word_ids, char_ids = self.dictionaries.encode(strings)
        device = self.token_encoder.proj_weight.device
        return self.token_encoder(
            torch.from_numpy(word_ids).to(device), torch.from_numpy(char_ids).to(device)
        )

    def _encode_boundaries(self) -> torch.Tensor:
        # Their package reads the boundaries as the strings "<bos>" and "<eos>".
        return self._encode_strings([self.bos_token, self.eos_token])

    @property
    def word_dim(self) -> int:
        """Width of the word embedding (0: none)."""
        return self.token_encoder.word_dim

    def describe(self) -> str:
        """A one-line summary of the token layer, for `info`."""
        return (
            f"ELMoForManyLangs: {len(self.dictionaries.words):,} words x {self.word_dim}, "
            f"{len(self.dictionaries.chars):,} characters x {self.options.char_dim}"
        )
