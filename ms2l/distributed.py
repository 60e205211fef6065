"""PyTorch's own distributed engine, as launched by ``torchrun``.

One process per device: ``torchrun --nproc_per_node=N -m ms2l pretrain ...`` sets
``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; NCCL joins GPUs, Gloo joins CPU processes.
Without those variables everything here is a no-op and training runs in-process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def current() -> DistInfo:
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return DistInfo()


def init_from_env(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group torchrun describes (if any); returns the info and this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return current(), device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if current().enabled:
        dist.barrier()


def all_reduce_sum(values: dict[str, float]) -> dict[str, float]:
    """Sum a dict of floats over ranks (same keys on every rank)."""
    if not current().enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return dict(zip(keys, t.tolist()))


def gather_batch(t: torch.Tensor, dim: int) -> tuple[torch.Tensor, int]:
    """Concatenate ``t`` from every rank along ``dim``, keeping gradients; returns (all, this rank's offset).

    Every rank must pass the same shape (DistributedSampler gives equal batches).
    """
    info = current()
    if not info.enabled:
        return t, 0
    from torch.distributed.nn.functional import all_gather
    parts = all_gather(t.contiguous())
    return torch.cat(parts, dim=dim), info.rank * t.shape[dim]
