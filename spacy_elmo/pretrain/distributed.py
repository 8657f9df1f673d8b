"""Data-parallel pretraining under `torchrun` (WORLD_SIZE > 1): each process trains a
slice of the batch's rows with DistributedDataParallel (gloo on CPU, nccl on GPU).
With one process every helper here does nothing, or the single-process thing."""

import os
from typing import Callable, Tuple

import torch
import torch.distributed as dist
from torch import nn

from .objective import BiLanguageModel


def init_distributed(gpu_id: int) -> Tuple[int, int]:
    """Join the process group `torchrun` describes in the environment.

    RETURNS (Tuple[int, int]): This process's rank and the number of processes.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if gpu_id >= 0 and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def process_device(gpu_id: int, rank: int) -> torch.device:
    """The device of this process: the CPU, or GPU `gpu_id` + its local rank."""
    if gpu_id < 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(f"[system] gpu_id is {gpu_id} but CUDA is not available")
    local = int(os.environ.get("LOCAL_RANK", rank))
    return torch.device("cuda", gpu_id + local)


def wrap_model(
    model: BiLanguageModel, world: int, softmax_kind: str, device: torch.device
) -> nn.Module:
    """The module to train: the model itself, or its DistributedDataParallel wrapper."""
    if world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    # Tail clusters of the adaptive softmax get no gradient in a batch without their words.
    return DistributedDataParallel(
        model,
        device_ids=[device] if device.type == "cuda" else None,
        find_unused_parameters=softmax_kind == "adaptive",
    )


def global_mean(value: torch.Tensor, world: int) -> float:
    """The mean of a scalar over all processes."""
    if world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= world
    return float(value)


@torch.no_grad()
def check_in_sync(model: nn.Module, world: int, step: int, log: Callable[[str], None]) -> None:
    """Make sure every process holds the same weights (a cheap checksum)."""
    total = torch.stack([p.double().sum() for p in model.parameters()]).sum().reshape(1)
    gathered = [torch.zeros_like(total) for _ in range(world)]
    dist.all_gather(gathered, total)
    values = [float(g) for g in gathered]
    if max(values) - min(values) > 1e-6 * max(1.0, abs(values[0])):
        raise RuntimeError(f"Processes out of sync at step {step}: weight checksums {values}")
    log(f"{world} processes in sync at step {step:,} (weight checksum {values[0]:.6f})")


def barrier(world: int) -> None:
    """Wait until every process gets here."""
    if world > 1 and dist.is_initialized():
        dist.barrier()


def leave(world: int) -> None:
    """Leave the process group once every process is done. Drop the DDP wrapper
    (and its reducer threads) first: else a process may abort at exit."""
    if world > 1:
        barrier(world)
        dist.destroy_process_group()
