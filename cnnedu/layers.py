"""Layers written from scratch for the lessons, interchangeable with PyTorch's.

``BatchNorm2d`` uses only tensor arithmetic (no ``F.batch_norm``); its parameters and buffers
carry PyTorch's names (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked``), so state dicts load either way.
"""

from __future__ import annotations

import torch
from torch import nn


class BatchNorm2d(nn.Module):
    """Normalise each channel of an (N, C, H, W) batch to mean 0 and variance 1, then scale and shift.

    Training mode: statistics of the current batch over (N, H, W); the *biased* variance
    normalises, the *unbiased* one (times n/(n-1)) goes into ``running_var``:
    ``running = (1 - momentum) * running + momentum * batch``. Eval mode: the running statistics.
    ``momentum=None`` makes the running statistics a plain cumulative average, as in PyTorch.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features must be at least 1, got {num_features}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"BatchNorm2d expects (N, C, H, W) input, got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) got {x.shape[1]} channels "
                             f"(input shape {tuple(x.shape)})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        if self.training:
            count = x.numel() // x.shape[1]
            if count <= 1:
                raise ValueError(
                    f"BatchNorm2d needs more than 1 value per channel when training, got input "
                    f"shape {tuple(x.shape)}: use a batch of 2 or more, or call .eval()")
            mean = x.mean(dim=(0, 2, 3))
            var = ((x - mean[None, :, None, None]) ** 2).mean(dim=(0, 2, 3))
            self.update_running_stats(mean, var, count)
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            return x_hat * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return x_hat

    @torch.no_grad()
    def update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, count: int) -> None:
        """Fold one batch's per-channel ``mean`` and biased ``var`` (over ``count`` values) into
        the running statistics: the variance is made unbiased (times n/(n-1)) first, and
        ``momentum=None`` gives the cumulative average."""
        self.num_batches_tracked += 1
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - factor).add_(factor * mean)
        self.running_var.mul_(1 - factor).add_(factor * var * count / (count - 1))

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine} (from scratch)")
