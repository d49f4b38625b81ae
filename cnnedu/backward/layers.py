"""Modules whose gradients are all hand-written: conv, max pool, ReLU, linear, cross-entropy.

``HandConv2d`` and ``HandLinear`` subclass PyTorch's ``nn.Conv2d`` / ``nn.Linear`` (same
parameters, same initialisation, same state dict) and only replace ``forward`` with a
``torch.autograd.Function`` whose ``backward`` is written out; with ``HandBatchNorm2d`` and
``HandMaxPool2d`` a whole network can be trained on gradients derived by hand, autograd only
chaining the layers' own backward functions in reverse order.
"""

from __future__ import annotations

import torch
from torch import nn

from .batchnorm import HandBatchNorm2d
from .conv import Conv2dFunction
from .pooling import pool2d_hand


class LinearFunction(torch.autograd.Function):
    """``y = x Wᵀ + b``: dx = dy W, dW = dyᵀ x, db = dy summed over the batch."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.t() + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return grad_out @ weight, grad_out.t() @ x, grad_out.sum(0)


class ReLUFunction(torch.autograd.Function):
    """``max(x, 0)``: the gradient passes where the input was positive, else 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * (x > 0)


class CrossEntropyFunction(torch.autograd.Function):
    """Mean cross-entropy of ``logits`` (B, K) and class indices: d/dlogits = (softmax - onehot)/B."""

    @staticmethod
    def forward(ctx, logits, target):
        log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        ctx.save_for_backward(log_p, target)
        return -log_p.gather(1, target[:, None]).mean()

    @staticmethod
    def backward(ctx, grad_out):
        log_p, target = ctx.saved_tensors
        grad = log_p.exp()
        grad[torch.arange(len(target)), target] -= 1
        return grad * (grad_out / len(target)), None


class HandConv2d(nn.Conv2d):
    """``nn.Conv2d`` (no dilation, no groups) computed by unfold + matmul, backward by hand."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dilation != (1, 1) or self.groups != 1 or self.padding_mode != "zeros":
            raise ValueError("HandConv2d supports dilation=1, groups=1, padding_mode='zeros' "
                             f"only, got {self.dilation}, {self.groups}, {self.padding_mode!r}")
        return Conv2dFunction.apply(x, self.weight, self.bias, self.stride, self.padding)


class HandLinear(nn.Linear):
    """``nn.Linear`` with the hand-written backward of :class:`LinearFunction`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return LinearFunction.apply(x, self.weight, self.bias)


class HandReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ReLUFunction.apply(x)


class HandMaxPool2d(nn.Module):
    """Max pooling by the course's ``pool2d``, with its hand-written backward."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pool2d_hand(x, self.kernel_size, self.stride, self.padding)


def hand_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy(logits, target)`` (mean over the batch) with a hand-written gradient."""
    return CrossEntropyFunction.apply(logits, target)


__all__ = ["HandBatchNorm2d", "HandConv2d", "HandLinear", "HandMaxPool2d", "HandReLU",
           "hand_cross_entropy"]
