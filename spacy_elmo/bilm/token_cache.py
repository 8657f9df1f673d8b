"""A bounded least-recently-used cache of token-layer vectors, keyed by token string."""

from collections import OrderedDict
from typing import Callable, Hashable, List, Optional, Sequence, Tuple

import torch


class TokenCache:
    """Keeps the context-free vectors of recently seen token strings in one tensor.

    The cache is only valid for the weights it was filled with: `lookup` takes a
    signature of the weights and empties the cache when it changes.
    """

    def __init__(self, capacity: int) -> None:
        """capacity (int): Most strings kept; 0 disables the cache."""
        if capacity < 0:
            raise ValueError(f"token cache size must be >= 0, got {capacity}")
        self.capacity = capacity
        self._slots: OrderedDict[str, int] = OrderedDict()
        self._storage: Optional[torch.Tensor] = None
        self._signature: Optional[Hashable] = None
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._slots)

    def clear(self) -> None:
        """Forget every stored vector."""
        self._slots.clear()
        self._storage = None
        self._signature = None

    def lookup(
        self,
        strings: Sequence[str],
        compute: Callable[[List[str]], torch.Tensor],
        signature: Hashable,
    ) -> torch.Tensor:
        """The vectors of strings, computing only those not stored.

        strings (Sequence[str]): Token strings; a repeated string is computed once.
        compute (Callable[[List[str]], torch.Tensor]): Vectors (n, dim) of given
            distinct strings.
        signature (Hashable): Identifies the weights; a change empties the cache.
        RETURNS (torch.Tensor): (len(strings), dim).
        """
        if signature != self._signature:
            self.clear()
            self._signature = signature
        if not strings:
            return compute([])
        distinct = list(dict.fromkeys(strings))
        if len(distinct) < len(strings):
            # Slots are handed out per missing string: a repeat would get a second
            # slot and leave the first pointing at another string's vector.
            vectors = self.lookup(distinct, compute, signature)
            rows = {s: i for i, s in enumerate(distinct)}
            return vectors[torch.tensor([rows[s] for s in strings], device=vectors.device)]
        if len(strings) > self.capacity:
            return compute(list(strings))
        slots: List[int] = []
        missing: List[Tuple[int, str]] = []
        for i, s in enumerate(strings):
            slot = self._slots.get(s)
            if slot is None:
                missing.append((i, s))
                slots.append(-1)
            else:
                self._slots.move_to_end(s)
                slots.append(slot)
        self.hits += len(strings) - len(missing)
        self.misses += len(missing)
        if missing:
            vectors = compute([s for _, s in missing])
            if self._storage is None:
                self._storage = vectors.new_empty(self.capacity, vectors.shape[1])
            free = self.capacity - len(self._slots)
            new_slots = []
            for j, (i, s) in enumerate(missing):
                if j < free:
                    slot = len(self._slots)
                else:  # Evict the least recently used; this batch's hits are newer.
                    _, slot = self._slots.popitem(last=False)
                self._slots[s] = slot
                slots[i] = slot
                new_slots.append(slot)
            index = torch.tensor(new_slots, device=self._storage.device)
            self._storage.index_copy_(0, index, vectors.to(self._storage.dtype))
        assert self._storage is not None
        return self._storage[torch.tensor(slots, device=self._storage.device)]


class VocabularyTable:
    """The token layer precomputed for a fixed word list (AllenNLP's vocab_to_cache):
    known words skip the character CNN. Recomputed when the weights change."""

    chunk_size = 4096

    def __init__(self, words: Sequence[str]) -> None:
        """words (Sequence[str]): The words; duplicates are ignored."""
        self.words = list(dict.fromkeys(words))
        self.index = {word: i for i, word in enumerate(self.words)}
        self._vectors: Optional[torch.Tensor] = None
        self._signature: Optional[Hashable] = None

    def __len__(self) -> int:
        return len(self.words)

    def vectors(
        self, compute: Callable[[List[str]], torch.Tensor], signature: Hashable
    ) -> torch.Tensor:
        """The (n_words, dim) table for the weights identified by `signature`."""
        if self._vectors is None or signature != self._signature:
            chunks = [
                compute(self.words[i : i + self.chunk_size])
                for i in range(0, len(self.words), self.chunk_size)
            ]
            self._vectors = torch.cat(chunks)
            self._signature = signature
        return self._vectors
