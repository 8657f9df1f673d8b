"""The ELMo bidirectional language model: token layer plus contextual layers."""

import os
from typing import Hashable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .char_encoder import CharacterEncoder
from .chars import BOS_TOKEN, EOS_TOKEN, bos_eos_ids, strings_to_ids, unique_tokens
from .lstm import LstmState, ProjectedBiLstm
from .options import ElmoOptions
from .packing import Packing
from .token_cache import TokenCache, VocabularyTable

DEFAULT_TOKEN_CACHE_SIZE = 10_000

# A forked child (e.g. `nlp.pipe(n_process=2)`) hangs in its first parallel torch op
# when the parent already used OpenMP threads: run forked children single-threaded.
os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))


class BiLMOutput(NamedTuple):
    """What the biLM returns for a batch of sentences.

    layers (torch.Tensor): (n_layers + 1, n_sentences, max_len, 2 * projection_dim):
        layer 0 is the token layer twice, layer j is [forward_j; backward_j].
        Padding positions are zero.
    mask (torch.Tensor): Bool (n_sentences, max_len), True at real tokens.
    """

    layers: torch.Tensor
    mask: torch.Tensor


class ElmoBiLM(nn.Module):
    """The ELMo biLM (docs/how-it-works.md, sections 1-3).

    Stateless by default: each sentence starts from a zero state, so its vectors do
    not depend on the rest of the batch. With `stateful=True` each batch row starts
    from the final state of the same row in the previous batch, as the original
    implementation did (`reset_states` starts over). An empty sentence leaves the
    state of its row unchanged (bilm-tf's behaviour).

    The token layer is computed once per distinct token in a batch; under
    `torch.inference_mode()` a bounded cache also keeps it across batches. The
    sentence boundaries are computed from their ids, never looked up by string: a
    token whose text is a boundary string ("<S>") gets the boundary's characters,
    as in AllenNLP, but its own cache entry.
    """

    boundary_ids: torch.Tensor
    # The token strings that stand for the sentence boundaries.
    bos_token = BOS_TOKEN
    eos_token = EOS_TOKEN

    def __init__(
        self,
        options: ElmoOptions,
        *,
        stateful: bool = False,
        token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
    ) -> None:
        """Create a biLM with random weights (bilm-tf's initialisation).

        options (ElmoOptions): The model's sizes.
        stateful (bool): Carry the LSTM state from batch to batch.
        token_cache_size (int): Token strings whose token-layer vectors are kept
            across batches during inference; 0 disables the cache.
        """
        super().__init__()
        self.char_encoder = CharacterEncoder(
            n_characters=262,
            char_dim=options.char_dim,
            filters=options.filters,
            n_highway=options.n_highway,
            output_dim=options.projection_dim,
            activation=options.activation,
        )
        # Rows of `char_embed` in the weight file: 261 (no padding row) or 262.
        self.char_table_rows_in_file = 261
        boundary = torch.from_numpy(bos_eos_ids(options.max_characters_per_token))
        self.register_buffer("boundary_ids", boundary, persistent=False)
        self._init_contextual(options, stateful, token_cache_size)

    def _init_contextual(
        self,
        options: ElmoOptions,
        stateful: bool,
        token_cache_size: int,
        *,
        forget_bias: float = 1.0,
        project: Optional[bool] = None,
    ) -> None:
        """Create the LSTMs and the state shared by every kind of token layer
        (forget_bias and project: see ProjectedBiLstm)."""
        self.options = options
        self.lstm = ProjectedBiLstm(
            input_dim=options.projection_dim,
            dim=options.dim,
            projection_dim=options.projection_dim,
            n_layers=options.n_layers,
            cell_clip=options.cell_clip,
            proj_clip=options.proj_clip,
            use_skip_connections=options.use_skip_connections,
            project=project,
            forget_bias=forget_bias,
        )
        self.stateful = stateful
        self.token_cache = TokenCache(token_cache_size)
        self.vocabulary: Optional[VocabularyTable] = None
        self._boundaries: Optional[Tuple[Hashable, torch.Tensor]] = None
        self._state: Optional[LstmState] = None

    @property
    def n_output_layers(self) -> int:
        """Number of returned layers: the token layer plus one per LSTM layer."""
        return self.options.n_layers + 1

    @property
    def output_dim(self) -> int:
        """Width of each returned layer."""
        return self.options.output_dim

    def reset_states(self) -> None:
        """Start the next batch from zero state (stateful mode)."""
        self._state = None

    def forward(self, char_ids: torch.Tensor) -> BiLMOutput:
        """Run the biLM on character ids (AllenNLP's `_ElmoBiLm` input).

        char_ids (torch.Tensor): Long (n_sentences, max_len, max_chars), as made by
            `chars.batch_to_ids`; all-zero rows are padding, after the tokens.
        RETURNS (BiLMOutput): The layers and the token mask.
        """
        if char_ids.dim() != 3 or char_ids.shape[-1] != self.options.max_characters_per_token:
            raise ValueError(
                "char_ids must have shape (n_sentences, max_len, "
                f"{self.options.max_characters_per_token}), found {tuple(char_ids.shape)}"
            )
        n_sent, max_len, n_chars = char_ids.shape
        mask = (char_ids > 0).any(dim=-1)
        lengths = mask.sum(dim=1)
        if not torch.equal(mask, torch.arange(max_len, device=mask.device) < lengths[:, None]):
            raise ValueError("char_ids has padding between tokens: pad at the end of each row")
        flat = torch.cat([self.boundary_ids, char_ids.reshape(-1, n_chars)])
        unique, inverse = torch.unique(flat, dim=0, return_inverse=True)
        vectors = self.char_encoder(unique)
        table = torch.cat([vectors[inverse[:2]], vectors])
        rows = (inverse[2:] + 2).reshape(n_sent, max_len)
        return self._contextualize(table, rows.cpu().numpy(), lengths.cpu().numpy())

    def embed_tokens(self, sentences: Sequence[Sequence[str]]) -> BiLMOutput:
        """Run the biLM on token strings.

        sentences (Sequence[Sequence[str]]): The tokens of each sentence.
        RETURNS (BiLMOutput): The layers and the token mask.
        """
        strings, index = unique_tokens(sentences)
        table = torch.cat([self.boundary_vectors(), self.token_vectors(strings)])
        lengths = np.array([len(s) for s in sentences], dtype=np.int64)
        return self._contextualize(table, index + 1, lengths)

    def set_vocabulary(self, words: Optional[Sequence[str]]) -> None:
        """Precompute the token layer of a word list, so that these words skip the
        character CNN during inference (AllenNLP's `vocab_to_cache`); None removes it.

        words (Optional[Sequence[str]]): The words.
        """
        self.vocabulary = VocabularyTable(words) if words else None

    def token_vectors(self, strings: Sequence[str]) -> torch.Tensor:
        """The context-free token layer of distinct strings. In inference mode, words
        of the vocabulary (see set_vocabulary) and cached strings skip the char CNN.

        strings (Sequence[str]): Distinct token strings.
        RETURNS (torch.Tensor): (len(strings), projection_dim).
        """
        if not torch.is_inference_mode_enabled():
            return self._encode_strings(list(strings))
        signature = self._weights_signature()
        if self.vocabulary is None:
            return self._cached_vectors(strings, signature)
        table = self.vocabulary.vectors(self._encode_strings, signature)
        rows = [self.vocabulary.index.get(s, -1) for s in strings]
        unknown = [i for i, row in enumerate(rows) if row < 0]
        device = table.device
        if not unknown:
            return table[torch.tensor(rows, dtype=torch.long, device=device)]
        out = table.new_empty(len(strings), table.shape[1])
        known = [i for i, row in enumerate(rows) if row >= 0]
        if known:
            out[torch.tensor(known, device=device)] = table[
                torch.tensor([rows[i] for i in known], device=device)
            ]
        out[torch.tensor(unknown, device=device)] = self._cached_vectors(
            [strings[i] for i in unknown], signature
        )
        return out

    def boundary_vectors(self) -> torch.Tensor:
        """The token layer of the sentence start and end, kept across batches in
        inference mode. They are not in the token cache, whose keys are the text of
        tokens: a token "<S>" must never share their entry.

        RETURNS (torch.Tensor): (2, projection_dim), start then end.
        """
        if not torch.is_inference_mode_enabled():
            return self._encode_boundaries()
        signature = self._weights_signature()
        if self._boundaries is None or self._boundaries[0] != signature:
            self._boundaries = (signature, self._encode_boundaries())
        return self._boundaries[1]

    def _encode_boundaries(self) -> torch.Tensor:
        return self.char_encoder(self.boundary_ids)

    def _cached_vectors(self, strings: Sequence[str], signature: Hashable) -> torch.Tensor:
        if self.token_cache.capacity:
            return self.token_cache.lookup(strings, self._encode_strings, signature)
        return self._encode_strings(list(strings))

    def _encode_strings(self, strings: List[str]) -> torch.Tensor:
        ids = strings_to_ids(strings, self.options.max_characters_per_token)
        return self.char_encoder(torch.from_numpy(ids).to(self.boundary_ids.device))

    def token_layer(self) -> nn.Module:
        """The module that computes the context-free token layer."""
        return self.char_encoder

    def _weights_signature(self) -> Hashable:
        return tuple(
            (p.data_ptr(), p._version, p.dtype, p.device) for p in self.token_layer().parameters()
        )

    def _contextualize(
        self, table: torch.Tensor, rows: np.ndarray, lengths: np.ndarray
    ) -> BiLMOutput:
        """Run the LSTMs over a batch whose token vectors are rows of `table`
        (rows 0 and 1: BOS and EOS), and assemble the returned layers."""
        n_sent, max_len = rows.shape
        device = table.device
        packing = Packing.build(rows, lengths)
        mask = torch.from_numpy(np.arange(max_len)[None, :] < lengths[:, None]).to(device)
        state = self._initial_state(packing, table) if self.stateful else None
        index = torch.from_numpy(packing.inputs).to(device)
        outputs, final = self.lstm(table, packing.batch_sizes, index=index, state=state)
        if self.stateful:
            self._store_state(packing, final)
        tokens = table[torch.from_numpy(rows).to(device)] * mask.unsqueeze(-1).to(table.dtype)
        layers = [torch.cat([tokens, tokens], dim=-1)]
        positions = torch.from_numpy(packing.outputs).to(device)
        for out in outputs:
            out = torch.cat([out, out.new_zeros(2, 1, out.shape[-1])], dim=1)
            layers.append(torch.cat([out[0][positions[0]], out[1][positions[1]]], dim=-1))
        return BiLMOutput(torch.stack(layers), mask)

    def _initial_state(self, packing: Packing, like: torch.Tensor) -> LstmState:
        # The stored state is indexed by batch row: the i-th sentence of a batch
        # continues the i-th of the last one; rows the last batch lacked start at zero.
        n_layers, p, d = self.options.n_layers, self.options.projection_dim, self.options.dim
        n_rows = len(packing.order)
        if self._state is None:
            h = like.new_zeros(n_layers, 2, n_rows, p)
            c = like.new_zeros(n_layers, 2, n_rows, d)
        else:
            h, c = self._state
            if h.shape[2] < n_rows:  # New rows start from zero state.
                grow = n_rows - h.shape[2]
                h = torch.cat([h, h.new_zeros(n_layers, 2, grow, p)], dim=2)
                c = torch.cat([c, c.new_zeros(n_layers, 2, grow, d)], dim=2)
            self._state = (h, c)
        # Packed row r continues batch row order[r]; rows of empty sentences don't run.
        running = torch.from_numpy(packing.order[: packing.n_running]).to(like.device)
        return h[:, :, running], c[:, :, running]

    @torch.no_grad()
    def _store_state(self, packing: Packing, final: LstmState) -> None:
        n_layers, p, d = self.options.n_layers, self.options.projection_dim, self.options.dim
        n_rows = len(packing.order)
        if self._state is None:
            ref = final[0]
            self._state = (
                ref.new_zeros(n_layers, 2, n_rows, p),
                ref.new_zeros(n_layers, 2, n_rows, d),
            )
        # Only rows that ran get a new state; the others (empty sentences, rows beyond
        # this batch) keep theirs.
        h, c = (t.clone() for t in self._state)
        running = torch.from_numpy(packing.order[: packing.n_running]).to(h.device)
        h[:, :, running] = final[0].detach()
        c[:, :, running] = final[1].detach()
        self._state = (h, c)
