"""Convolution forward as unfold + one matrix multiply, and its backward by hand.

Forward (exercise 02.1): ``cols = unfold(x)`` holds every window as a column (N, C_in*kh*kw, L),
``Y = W @ cols + b`` with ``W`` the weight flattened to (C_out, C_in*kh*kw). The backward of a
matrix product is two matrix products with the other factor transposed:

* ``dW = sum over the batch of dY @ colsᵀ``, reshaped to the weight's shape;
* ``dcols = Wᵀ @ dY``, and ``dX = fold(dcols)``: ``fold`` puts each column back where its
  window was and *adds* where windows overlap (the reverse of ``unfold`` copying shared pixels
  into several columns), dropping what lands on the padding;
* ``db = dY`` summed over the batch and every position.

``dX`` is therefore a transposed convolution of ``dY`` with the same weights
(``F.conv_transpose2d(dY, W, stride=s, padding=p)``), which is why "the gradient of a
convolution is a convolution": with stride 1 it is an ordinary convolution of the zero-padded
``dY`` with the kernel rotated 180 degrees and its channel axes swapped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def _check(x: torch.Tensor, weight: torch.Tensor, stride, padding):
    if x.dim() != 4 or weight.dim() != 4:
        raise ValueError(f"x and weight must be 4-D, (N, C_in, H, W) and (C_out, C_in, kH, kW); "
                         f"got shapes {tuple(x.shape)} and {tuple(weight.shape)}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but weight expects {weight.shape[1]} "
                         f"(weight shape {tuple(weight.shape)}; groups are not supported)")
    s, p = _pair(stride, "stride"), _pair(padding, "padding")
    if min(s) < 1 or min(p) < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got stride={stride}, "
                         f"padding={padding}")
    out_hw = tuple((x.shape[2 + d] + 2 * p[d] - weight.shape[2 + d]) // s[d] + 1
                   for d in range(2))
    if min(out_hw) < 1:
        raise ValueError(f"the kernel {tuple(weight.shape[2:])} does not fit the padded input "
                         f"{tuple(x.shape[2:])} with padding={padding}")
    return s, p, out_hw


def conv2d_unfold(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  stride=1, padding=0) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)`` as unfold + matmul (no dilation, groups)."""
    s, p, out_hw = _check(x, weight, stride, padding)
    cols = F.unfold(x, weight.shape[2:], padding=p, stride=s)          # (N, C_in*kh*kw, L)
    out = weight.reshape(weight.shape[0], -1) @ cols                   # (N, C_out, L)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(x.shape[0], weight.shape[0], *out_hw)


def conv2d_backward(x: torch.Tensor, weight: torch.Tensor, grad_out: torch.Tensor, stride=1,
                    padding=0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dw, db): the gradients of ``(conv2d(x, weight, bias) * grad_out).sum()``.

    ``grad_out`` has the output's shape (N, C_out, H_out, W_out); the results have the shapes
    of ``x``, ``weight`` and the bias (C_out,).
    """
    s, p, out_hw = _check(x, weight, stride, padding)
    n, c_out = x.shape[0], weight.shape[0]
    if tuple(grad_out.shape) != (n, c_out, *out_hw):
        raise ValueError(f"grad_out must have the output's shape {(n, c_out, *out_hw)}, got "
                         f"{tuple(grad_out.shape)}")
    cols = F.unfold(x, weight.shape[2:], padding=p, stride=s)          # (N, K, L)
    d_y = grad_out.reshape(n, c_out, -1)                               # (N, C_out, L)
    w_mat = weight.reshape(c_out, -1)                                  # (C_out, K)
    dw = (d_y @ cols.transpose(1, 2)).sum(0).reshape(weight.shape)    # dY · colsᵀ
    d_cols = w_mat.t() @ d_y                                           # Wᵀ · dY: (N, K, L)
    dx = F.fold(d_cols, x.shape[2:], weight.shape[2:], padding=p, stride=s)
    db = grad_out.sum(dim=(0, 2, 3))
    return dx, dw, db


class Conv2dFunction(torch.autograd.Function):
    """``conv2d_unfold`` with the hand-written backward above."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return conv2d_unfold(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        dx, dw, db = conv2d_backward(x, weight, grad_out, ctx.stride, ctx.padding)
        return dx, dw, db if ctx.has_bias else None, None, None
