"""Synchronised BatchNorm from scratch: lesson 03's ``BatchNorm2d`` with statistics over all ranks.

Per-process BatchNorm normalises each rank's batch with that rank's own mean and variance, so N
processes with B/N images each do *not* compute what one process does with B images.
``SyncBatchNorm2d`` sums per-channel numbers over all ranks with ``all_reduce``: the sum of x
and the count give the global mean, ``mean = Σx / n``; then the sum of squares about that
mean gives the global (biased) variance, ``var = Σ(x - mean)² / n``. One message with
``Σx, Σx², n`` would do (``var = Σx²/n - mean²``), but in float32 that difference of two large
numbers loses digits when a channel's mean is large next to its spread (measured on the
lesson's ResNet: weights 1e-4 apart from one process after a single step, instead of 1e-7), so
it costs a second, small all-reduce.

Backward: every rank's output depends on every rank's input through those sums. The sum is an
:class:`AllReduceSum` autograd function whose backward is again an all-reduce sum of the incoming
gradients (d/dx_r of Σ_r' L_r' collects the gradient from every rank). Autograd does the rest,
so the gradients are exact, not an approximation. PyTorch's ``nn.SyncBatchNorm`` (CUDA only:
it refuses CPU modules) does the same with fused kernels.

Without an initialised process group (or with one rank) it is plain ``BatchNorm2d``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from cnnedu.layers import BatchNorm2d


class AllReduceSum(torch.autograd.Function):
    """``all_reduce(SUM)`` that autograd can differentiate: its backward is also a SUM all-reduce."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # noqa: D102
        summed = tensor.clone()
        dist.all_reduce(summed, op=dist.ReduceOp.SUM)
        return summed

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        summed = grad.clone()
        dist.all_reduce(summed, op=dist.ReduceOp.SUM)
        return summed


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class SyncBatchNorm2d(BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are those of the global batch (all ranks)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _distributed()):
            return super().forward(x)
        self._check(x)
        c, local_count = self.num_features, x.numel() // x.shape[1]
        first = AllReduceSum.apply(torch.cat([      # one message: [Σx (C values), n]
            x.sum(dim=(0, 2, 3)),
            torch.full((1,), float(local_count), dtype=x.dtype, device=x.device),
        ]))
        count = first[c]
        if float(count.detach()) <= 1:
            raise ValueError(f"SyncBatchNorm2d needs more than 1 value per channel over all "
                             f"ranks when training, got input shape {tuple(x.shape)}")
        mean = first[:c] / count
        centred = x - mean[None, :, None, None]
        # Σ(x - mean)², not Σx² - n·mean²: the latter cancels badly in float32 when |mean| >> std.
        var = AllReduceSum.apply((centred * centred).sum(dim=(0, 2, 3))) / count
        self.update_running_stats(mean.detach(), var.detach(), int(count.detach()))
        x_hat = centred / torch.sqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            return x_hat * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return x_hat

    def extra_repr(self) -> str:
        return super().extra_repr().replace("(from scratch)", "(from scratch, synchronised)")


def convert_sync_batchnorm(module: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """Replace every 2-d BatchNorm in ``module`` by a synchronised one, keeping its state.

    On CUDA this is PyTorch's ``nn.SyncBatchNorm.convert_sync_batchnorm``; elsewhere (gloo on a
    CPU, where ``nn.SyncBatchNorm`` refuses to run) each ``nn.BatchNorm2d`` or
    ``cnnedu.layers.BatchNorm2d`` becomes a :class:`SyncBatchNorm2d` with the same parameters
    and running statistics.
    """
    if torch.device(device).type == "cuda":  # pragma: no mutate (CUDA only)
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)  # pragma: no mutate (CUDA only)
    if isinstance(module, (nn.BatchNorm2d, BatchNorm2d)) and not isinstance(module, SyncBatchNorm2d):
        synced = SyncBatchNorm2d(module.num_features, eps=module.eps, momentum=module.momentum,
                                 affine=module.affine)
        state = module.state_dict()
        synced.load_state_dict(state)
        synced.train(module.training)
        return synced
    for name, child in module.named_children():
        module.add_module(name, convert_sync_batchnorm(child, device))
    return module
