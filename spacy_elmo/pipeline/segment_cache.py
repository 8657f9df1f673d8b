"""The segment cache: the biLM layers of segments seen before, reused when the biLM
runs again without gradients on the same token strings."""

from collections import OrderedDict
from typing import Dict, Hashable, Optional, Tuple

import torch


class SegmentCache:
    """The biLM layers of segments seen before, keyed by their token strings.

    Meant for training with a frozen biLM: the same training (and dev) sentences come
    back every epoch, and a stateless biLM gives them the same layers. Memory is
    bounded by `max_bytes`; once full, new segments are not added (the segments that
    are in stay: with a training set larger than the cache, a fixed part of it hits
    every epoch, where least-recently-used eviction would miss on every segment).
    The cache empties itself when the biLM object or its weights change.

    max_bytes (int): Most bytes of stored layers.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.n_bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: Dict[Tuple[str, ...], torch.Tensor] = OrderedDict()
        self._signature: Optional[Hashable] = None

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, signature: Hashable) -> None:
        """Empty the cache if the weights it was filled with have changed."""
        if signature != self._signature:
            self.clear()
            self._signature = signature

    def get(self, key: Tuple[str, ...]) -> Optional[torch.Tensor]:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def add(self, key: Tuple[str, ...], layers: torch.Tensor) -> None:
        size = layers.numel() * layers.element_size()
        if key in self._entries or self.n_bytes + size > self.max_bytes:
            return
        self._entries[key] = layers
        self.n_bytes += size

    def clear(self) -> None:
        self._entries.clear()
        self.n_bytes = 0
        self._signature = None
