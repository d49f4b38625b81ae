"""Small SPMD programs for the lesson: gradients averaged by hand, then by DDP; all-reduce timed.

Run under torchrun (``python -m cnnedu.distributed by-hand`` / ``allreduce-bench``): functions
defined in a notebook cannot be sent to other processes, so these live in the package.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from cnnedu.distributed.group import Context
from cnnedu.distributed.say import say
from cnnedu.distributed.syncbn import SyncBatchNorm2d


def by_hand(ctx: Context, global_batch: int = 8) -> None:
    """Each rank: its shard -> local gradient -> all_reduce (sum) / world size; then DDP; compare.

    Rank 0 also computes the gradient of one process over the whole batch: all three agree.
    """
    torch.manual_seed(0)
    x_all, y_all = torch.randn(global_batch, 4), torch.randn(global_batch, 1)
    shard = slice(ctx.rank, global_batch, ctx.world_size)
    x, y = x_all[shard], y_all[shard]

    torch.manual_seed(1)
    model = nn.Linear(4, 1)                      # same seed: the same replica on every rank
    nn.functional.mse_loss(model(x), y).backward()
    local = model.weight.grad.clone()
    for p in model.parameters():                 # the whole of data parallelism, by hand:
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= ctx.world_size
    for r in range(ctx.world_size):
        if r == ctx.rank:
            say(f"rank {r}: {len(x)} samples {list(range(global_batch))[shard]}, "
                f"local grad {_fmt(local)} -> averaged {_fmt(model.weight.grad)}")
        dist.barrier()

    torch.manual_seed(1)
    replica = nn.Linear(4, 1)
    ddp = nn.parallel.DistributedDataParallel(replica)
    nn.functional.mse_loss(ddp(x), y).backward()
    diff_ddp = (replica.weight.grad - model.weight.grad).abs().max().item()

    torch.manual_seed(1)
    single = nn.Linear(4, 1)
    nn.functional.mse_loss(single(x_all), y_all).backward()
    diff_single = (single.weight.grad - model.weight.grad).abs().max().item()
    if ctx.rank == 0:
        say(f"one process, whole batch:  grad {_fmt(single.weight.grad)}")
        say(f"max |by hand - DDP|          = {diff_ddp:.1e}")
        say(f"max |by hand - one process|  = {diff_single:.1e}")


def _fmt(t: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:+.4f}" for v in t.flatten().tolist()) + "]"


def allreduce_bench(ctx: Context, out: str | None, repeats: int = 20,
                    sizes_kib: tuple[int, ...] = (1, 4, 16, 64, 256, 1024, 4096, 16384)) -> dict:
    """Time of one all-reduce of float32 tensors of several sizes (for the cost model).

    ``seconds`` is the best of ``repeats``: rank 0's clock also counts the time until the other
    ranks reach the call, and on shared cores that skew (a scheduler time slice, milliseconds)
    swamps a small message's cost; the best run is the one without it. The median is kept too
    (``median_seconds``), to show how much the skew adds."""
    rows = []
    for kib in sizes_kib:
        tensor = torch.ones(kib * 256, device=ctx.device)
        for _ in range(2):
            dist.all_reduce(tensor)                  # warm-up
        times = []
        for _ in range(repeats):
            dist.barrier()
            if ctx.device.type == "cuda":  # pragma: no mutate (CUDA only)
                torch.cuda.synchronize()
            start = time.perf_counter()
            dist.all_reduce(tensor)
            if ctx.device.type == "cuda":  # pragma: no mutate (CUDA only)
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        rows.append({"bytes": kib * 1024, "seconds": min(times),
                     "median_seconds": statistics.median(times)})
        if ctx.rank == 0:
            say(f"all_reduce {kib:>6} KiB: best {rows[-1]['seconds'] * 1e3:8.3f} ms, median "
                f"{rows[-1]['median_seconds'] * 1e3:8.3f} ms")
    result = {"world_size": ctx.world_size, "backend": dist.get_backend(), "rows": rows}
    if out and ctx.rank == 0:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=1))
    return result


def bn_check(ctx: Context, steps: int = 3) -> dict[str, float]:
    """Synchronised BatchNorm on N ranks vs ``nn.BatchNorm2d`` on the whole batch in one process.

    Compares, over ``steps`` training steps, outputs, input gradients, weight and bias gradients
    (summed over ranks, as the loss is a sum) and the running statistics. Rank 0 prints and
    returns the largest difference of each.
    """
    ours, ref = SyncBatchNorm2d(3), nn.BatchNorm2d(3)
    torch.manual_seed(0)
    with torch.no_grad():
        for layer in (ours, ref):
            layer.weight.copy_(torch.tensor([0.5, 1.0, 2.0]))  # pragma: no mutate (demo data)
            layer.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))  # pragma: no mutate (demo data)
    worst = dict.fromkeys(("output", "input grad", "weight grad", "bias grad", "running mean",
                           "running var"), 0.0)
    for _ in range(steps):
        x_all = torch.randn(8, 3, 5, 5) * 2 + 3  # pragma: no mutate (demo data)
        w_all = torch.randn(8, 3, 5, 5)  # pragma: no mutate (demo data)
        shard = slice(ctx.rank, None, ctx.world_size)
        x = x_all[shard].clone().requires_grad_()
        x_ref = x_all.clone().requires_grad_()
        ours.zero_grad()
        ref.zero_grad()
        out, out_ref = ours(x), ref(x_ref)
        (out * w_all[shard]).sum().backward()
        (out_ref * w_all).sum().backward()
        grads = torch.cat([ours.weight.grad, ours.bias.grad])
        dist.all_reduce(grads)
        pairs = {"output": (out, out_ref[shard]), "input grad": (x.grad, x_ref.grad[shard]),
                 "weight grad": (grads[:3], ref.weight.grad), "bias grad": (grads[3:], ref.bias.grad),
                 "running mean": (ours.running_mean, ref.running_mean),
                 "running var": (ours.running_var, ref.running_var)}
        for name, (a, b) in pairs.items():
            difference = torch.tensor((a.detach() - b.detach()).abs().max().item())
            dist.all_reduce(difference, op=dist.ReduceOp.MAX)
            value = difference.item()   # a NaN is kept: max() would drop it after a number
            worst[name] = value if math.isnan(value) else max(worst[name], value)
    if ctx.rank == 0:
        for name, value in worst.items():
            say(f"max |sync BN on {ctx.world_size} ranks - one process|, {name:12}: {value:.1e}")
    return worst
