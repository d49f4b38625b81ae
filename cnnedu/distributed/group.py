"""Who this process is, and joining / leaving torchrun's process group (gloo on CPU, NCCL on CUDA).

torchrun tells each process who it is through environment variables (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``); :func:`setup` reads them, picks the device and
joins the group; without them it returns a one-process :class:`Context`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cnnedu import config


@dataclass(frozen=True)
class Context:
    """Who this process is: rank, world size, local rank and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return dist.is_available() and dist.is_initialized()


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (what Slurm's ``--cpus-per-task`` or
    a container's CPU set allows) where the system reports it, else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:          # macOS, Windows: no affinity call
        return os.cpu_count() or 1


def threads_per_process(local_world_size: int, cores: int | None = None) -> int:
    """CPU threads for each of ``local_world_size`` processes sharing ``cores`` cores.

    torchrun sets ``OMP_NUM_THREADS=1`` for every worker when it starts more than one (to avoid
    oversubscription). A value set by the user wins; otherwise the cores are shared evenly:
    on 2 cores, 1 process gets 2 threads, 2 processes get 1 each, so the two runs compared in
    the lesson use the same hardware. The cores are the ones this process may run on (under
    Slurm or in a container, fewer than the machine has), not ``os.cpu_count()``.
    """
    cores = cores or usable_cores()
    return max(1, cores // max(1, local_world_size))


def setup() -> Context:
    """Join the process group torchrun prepared (gloo on CPU, NCCL on CUDA) and pick the device."""
    if "RANK" not in os.environ:
        return Context()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    # One GPU per local rank; with fewer GPUs than ranks on this node, the ranks use the CPU.
    if (torch.cuda.is_available() and torch.cuda.device_count() >= local_world
            and config.device_setting() in ("auto", "cuda")):  # pragma: no mutate (CUDA only)
        torch.cuda.set_device(local_rank)  # pragma: no mutate (CUDA only)
        device, backend = torch.device("cuda", local_rank), "nccl"  # pragma: no mutate (CUDA only)
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not os.environ.get("CNNEDU_THREADS_FROM_USER"):
        torch.set_num_threads(threads_per_process(local_world))
    # The store where ranks swap addresses: torchrun's, seen through a prefix per attempt. After
    # a restart the keys of the failed attempt may still be there, and a rank that reads its
    # peer's *old* address times out (measured: 2 of 3 restarted runs failed that way here).
    store, _, _ = next(dist.rendezvous("env://"))
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    device_id = device if device.type == "cuda" else None  # pragma: no mutate (CUDA only)
    dist.init_process_group(backend, store=dist.PrefixStore(f"attempt{attempt}", store),
                            rank=rank, world_size=world, device_id=device_id)
    return Context(rank, world, local_rank, device)


def teardown(ctx: Context) -> None:
    """Leave the group cleanly: a barrier first, so no rank tears down while another still talks.

    Measured on 2 cores without the barrier: 1 run in 4 aborted ("terminate called without an
    active exception") when one rank destroyed the group while the other was still working.
    """
    if ctx.distributed:
        dist.barrier()
        dist.destroy_process_group()
