"""Process-group set-up for multi-GPU and multi-node training launched by ``torchrun``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from emoclip_clinic.devices import resolve_device


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0  # global rank
    world_size: int = 1  # number of processes
    local_rank: int = 0  # rank on this node (selects the GPU)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # compute device

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and draws progress bars."""
        return self.rank == 0


def setup_distributed(device: str = "auto") -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment, if any.

    Args:
        device: "auto" (the local GPU if there is one, else CPU), "cpu", "cuda" or "cuda:N"
            (checked by :func:`emoclip_clinic.devices.resolve_device`).

    Returns:
        This process's rank, world size and device. Without ``torchrun`` (no ``WORLD_SIZE``
        in the environment) a single process on ``device``.
    """
    resolved = resolve_device(device)
    use_cuda = resolved.startswith("cuda")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=torch.device(resolved))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    target = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    return DistInfo(rank, world, local, target)


def cleanup_distributed() -> None:
    """Leave the process group (a no-op for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every process gets here (a no-op for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_counts(n: int, device: torch.device | str) -> list[int]:
    """Every process's ``n``, in rank order (``[n]`` for a single process).

    Used to agree on batch sizes, which differ between processes when a clip fails to decode
    on one of them. ``device`` must be the one the process group communicates on (the GPU
    under NCCL).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return [n]
    local = torch.tensor([n], dtype=torch.long, device=device)
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local)
    return [int(part) for part in parts]


def merged_from_all(mapping: dict[str, str]) -> dict[str, str]:
    """The union of every process's ``mapping`` (``mapping`` itself for a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return mapping
    parts: list[dict[str, str] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, mapping)
    return {key: value for part in parts for key, value in (part or {}).items()}
