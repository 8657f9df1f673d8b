"""The optimiser of biLM pretraining and its learning-rate schedule.

bilm-tf trains with Adagrad at a constant rate of 0.2 (`optimizer = "adagrad"`).
Adam and AdamW can warm up linearly over `warmup_steps` and then decay to zero over
the run (`lr_decay = "linear"` or `"cosine"`). The run's length is its step limit
or this session's `max_minutes`, whichever ends it first, so a schedule fits a
wall-clock budget too; a run that may be killed and resumed should set `max_steps`,
since a resumed session starts its `max_minutes` afresh.
"""

import math
from typing import Any, Dict

import torch
from torch import nn

OPTIMIZERS = ("adagrad", "adam", "adamw")
LR_DECAYS = ("constant", "linear", "cosine")


def make_optimizer(model: nn.Module, training: Dict[str, Any]) -> torch.optim.Optimizer:
    """The optimiser the [training] settings name, at the schedule's first rate.

    model (nn.Module): The model whose parameters are trained.
    training (Dict[str, Any]): The config's [training] section.
    RETURNS (torch.optim.Optimizer): The optimiser.
    """
    kind = training["optimizer"]
    lr = learn_rate(training, 0, 0.0)
    if kind == "adagrad":
        return torch.optim.Adagrad(
            model.parameters(), lr=lr, initial_accumulator_value=training["initial_accumulator"]
        )
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    if kind == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=training["weight_decay"])
    raise ValueError(f"[training] optimizer = {kind!r}: use one of {', '.join(OPTIMIZERS)}")


def learn_rate(training: Dict[str, Any], step: int, done: float) -> float:
    """The learning rate of the optimiser step after `step` steps.

    training (Dict[str, Any]): The config's [training] section: learn_rate,
        warmup_steps, lr_decay.
    step (int): Steps taken before this one.
    done (float): The share of the run already done, from 0 to 1.
    RETURNS (float): The rate.
    """
    rate = training["learn_rate"]
    warmup = training["warmup_steps"]
    if warmup > 0 and step < warmup:
        rate *= (step + 1) / warmup
    done = min(max(done, 0.0), 1.0)
    decay = training["lr_decay"]
    if decay == "linear":
        rate *= 1.0 - done
    elif decay == "cosine":
        rate *= 0.5 * (1.0 + math.cos(math.pi * done))
    elif decay != "constant":
        raise ValueError(f"[training] lr_decay = {decay!r}: use one of {', '.join(LR_DECAYS)}")
    return rate


def run_done(training: Dict[str, Any], step: int, limit: int, seconds: float) -> float:
    """The share of a run done: of its step limit or of this session's `max_minutes`,
    whichever is further along.

    step (int): Steps taken.
    limit (int): The run's step limit (from max_steps or max_epochs).
    seconds (float): This session's time so far.
    RETURNS (float): From 0 to 1.
    """
    done = step / limit if limit > 0 else 0.0
    if training["max_minutes"] > 0:
        done = max(done, seconds / (training["max_minutes"] * 60))
    return min(done, 1.0)


def set_learn_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    """Give every parameter group of the optimiser the rate."""
    for group in optimizer.param_groups:
        group["lr"] = rate
