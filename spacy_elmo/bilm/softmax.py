"""Output layers of the biLM's language-model objective (docs/how-it-works.md, s. 6).

Each takes the top LSTM layer's states and the target word ids of one direction.
`loss` is the training objective (it may be an estimate); `log_likelihood` is exact
(normalised over the whole vocabulary) and is what perplexity is computed from.
"""

import math
from typing import Dict, List, Sequence

import torch
from torch import nn
from torch.nn import functional as F

SOFTMAX_KINDS = ("adaptive", "sampled", "full")


class LMSoftmax(nn.Module):
    """Interface of the output layers."""

    kind = ""

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood used for training.

        hidden (torch.Tensor): States (n, dim).
        targets (torch.Tensor): Long word ids (n,).
        RETURNS (torch.Tensor): A scalar.
        """
        raise NotImplementedError

    def log_likelihood(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Exact log-probability of each target.

        RETURNS (torch.Tensor): (n,) log-probabilities.
        """
        raise NotImplementedError

    def settings(self) -> Dict[str, object]:
        """The constructor's arguments, to rebuild the layer from a saved file."""
        raise NotImplementedError


class FullSoftmax(LMSoftmax):
    """A softmax over the whole vocabulary: W (n_words, dim) plus a bias, bilm-tf's
    layout and initialisation (W ~ N(0, 1/sqrt(dim)), b = 0)."""

    kind = "full"

    def __init__(self, n_words: int, dim: int) -> None:
        super().__init__()
        self.n_words = n_words
        self.dim = dim
        self.weight = nn.Parameter(torch.randn(n_words, dim) / math.sqrt(dim))
        self.bias = nn.Parameter(torch.zeros(n_words))

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(F.linear(hidden, self.weight, self.bias), targets)

    def log_likelihood(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = F.linear(hidden, self.weight, self.bias)
        return logits.gather(1, targets[:, None]).squeeze(1) - torch.logsumexp(logits, dim=1)

    def settings(self) -> Dict[str, object]:
        return {"n_words": self.n_words, "dim": self.dim}


class SampledSoftmax(FullSoftmax):
    """bilm-tf's sampled softmax: `n_samples` negatives per batch from a log-uniform
    (Zipf) distribution over the frequency-sorted vocabulary, shared by every
    position, logits corrected by the log expected count, accidental hits removed.
    Evaluation uses the full softmax over the same weights."""

    kind = "sampled"
    log_probs: torch.Tensor

    def __init__(self, n_words: int, dim: int, n_samples: int = 8192) -> None:
        super().__init__(n_words, dim)
        self.n_samples = min(n_samples, n_words)
        ranks = torch.arange(n_words, dtype=torch.float64)
        probs = (torch.log(ranks + 2) - torch.log(ranks + 1)) / math.log(n_words + 1)
        self.register_buffer("log_probs", probs.log().float(), persistent=False)

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().loss(hidden, targets)
        samples = self.sample(self.n_samples, hidden.device)
        log_count = math.log(self.n_samples)
        true_logits = (hidden * self.weight[targets]).sum(1) + self.bias[targets]
        true_logits = true_logits - (self.log_probs[targets] + log_count)
        sampled_logits = F.linear(hidden, self.weight[samples], self.bias[samples])
        sampled_logits = sampled_logits - (self.log_probs[samples] + log_count)
        hits = targets[:, None] == samples[None, :]
        sampled_logits = sampled_logits.masked_fill(hits, torch.finfo(hidden.dtype).min)
        logits = torch.cat([true_logits[:, None], sampled_logits], dim=1)
        return F.cross_entropy(logits, torch.zeros_like(targets))

    def sample(self, n: int, device: torch.device) -> torch.Tensor:
        """Draw `n` word ids (with replacement) from the log-uniform distribution, with
        torch's global generator (so a checkpoint's RNG state makes it reproducible)."""
        u = torch.rand(n, dtype=torch.float64)
        ids = torch.floor(torch.exp(u * math.log(self.n_words + 1))).long() - 1
        return ids.clamp_(0, self.n_words - 1).to(device)

    def settings(self) -> Dict[str, object]:
        return {"n_words": self.n_words, "dim": self.dim, "n_samples": self.n_samples}


class AdaptiveSoftmax(LMSoftmax):
    """An adaptive softmax (Grave et al. 2017): frequent words in the head, rarer
    ones in tail clusters of shrinking width. Exact, and cheap on CPU."""

    kind = "adaptive"

    def __init__(
        self, n_words: int, dim: int, cutoffs: Sequence[int] = (4000, 20000), div_value: float = 4.0
    ) -> None:
        super().__init__()
        self.n_words = n_words
        self.dim = dim
        self.cutoffs = usable_cutoffs(cutoffs, n_words)
        self.div_value = div_value
        if int(dim // div_value ** len(self.cutoffs)) < 1:
            raise ValueError(
                f"Adaptive softmax: width {dim} divided by div_value {div_value} for each of "
                f"{len(self.cutoffs)} tail clusters leaves nothing; use fewer cutoffs or a "
                "smaller div_value"
            )
        self.layer = nn.AdaptiveLogSoftmaxWithLoss(
            dim, n_words, self.cutoffs, div_value=div_value, head_bias=True
        )

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.layer(hidden, targets).loss

    def log_likelihood(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.layer(hidden, targets).output

    def settings(self) -> Dict[str, object]:
        return {
            "n_words": self.n_words,
            "dim": self.dim,
            "cutoffs": list(self.cutoffs),
            "div_value": self.div_value,
        }


def usable_cutoffs(cutoffs: Sequence[int], n_words: int) -> List[int]:
    """The cluster boundaries that fall inside a vocabulary of `n_words` (a small
    vocabulary keeps fewer clusters; at least one tail is always kept)."""
    kept = [int(c) for c in cutoffs if 0 < int(c) < n_words - 1]
    if sorted(set(kept)) != kept:
        raise ValueError(f"Adaptive softmax cutoffs must increase, found {list(cutoffs)}")
    return kept or [max(1, n_words // 2)]


def make_softmax(kind: str, n_words: int, dim: int, **settings: object) -> LMSoftmax:
    """Build an output layer by kind ('adaptive', 'sampled' or 'full').

    RETURNS (LMSoftmax): The layer, randomly initialised.
    """
    if kind == "adaptive":
        return AdaptiveSoftmax(n_words, dim, **settings)  # type: ignore[arg-type]
    if kind == "sampled":
        return SampledSoftmax(n_words, dim, **settings)  # type: ignore[arg-type]
    if kind == "full":
        return FullSoftmax(n_words, dim, **settings)
    raise ValueError(f"Unknown softmax kind {kind!r}: use one of {', '.join(SOFTMAX_KINDS)}")
