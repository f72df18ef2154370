"""Distributed training under `torchrun`: process group set-up, rank queries, small collectives.

`torchrun --nproc_per_node N -m detr_core train ...` starts N copies of the command with RANK,
LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set; `init_from_env` joins them into one
process group: NCCL when training on CUDA (one GPU per process, cuda:LOCAL_RANK), gloo on the CPU.
Without those variables everything here is a single-process no-op.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from ..errors import DeviceError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "nccl" | "gloo" | None (not distributed)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def init_from_env(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes (no-op without it). `device` is the device the
    user asked for; on CUDA each process takes cuda:LOCAL_RANK. Returns this process's place."""
    if not launched_by_torchrun():
        return DistInfo()
    if is_initialized():
        return current()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise DeviceError(f"process {rank} (local rank {local_rank}) has no GPU: only "
                              f"{torch.cuda.device_count()} present; use --nproc_per_node <= that")
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise DeviceError(f"distributed training on {device.type} is not supported; use cuda or cpu")
    dist.init_process_group(backend, rank=rank, world_size=world, timeout=timedelta(minutes=30))
    return DistInfo(rank, world, local_rank, backend)


def process_device(device: torch.device, info: DistInfo) -> torch.device:
    """The device of this process: cuda:LOCAL_RANK when distributed on CUDA."""
    if info.backend == "nccl":
        return torch.device("cuda", info.local_rank)
    return device


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def current() -> DistInfo:
    if not is_initialized():
        return DistInfo()
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())),
                    dist.get_backend())


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """[obj of rank 0, obj of rank 1, ...] on every process ([obj] when not distributed)."""
    if not is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank `src`'s obj, on every process."""
    if not is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def mean_over_processes(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Each value averaged over all processes (for logging), in one all-reduce."""
    if not is_initialized() or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist()))


def any_process(flag: bool, device: torch.device) -> bool:
    """True on every process if `flag` is True on any (e.g. "stop requested", "loss not finite")."""
    if not is_initialized():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def cleanup() -> None:
    if is_initialized():
        dist.destroy_process_group()
