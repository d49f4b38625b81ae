"""Max and average pooling backward, by hand, for the course's from-scratch ``pool2d``.

Max pooling: each output's gradient goes to the one input pixel that won its window. Windows
that overlap (stride < kernel) may share a winner, which then receives the *sum* of their
gradients; padding never wins (it is -inf), so padding cells get nothing. Ties: PyTorch's CPU
and CUDA kernels scan a window row by row and replace the running maximum only on a strictly
larger value, so the gradient goes to the *first* maximum in row-major window order; ``pool2d``
scans the kernel offsets in the same order with the same strict rule, so it routes ties the
same way. A from-scratch version that picks another tied pixel (or splits the gradient among
them) is an equally valid subgradient: the per-window sum of the gradient agrees, its place not.
(One corner differs: a window whose real values are all -inf may route to a padding cell here,
where PyTorch picks its first real pixel; the gradient is then lost rather than misplaced.)

Average pooling: each output's gradient is spread evenly over its window, divided by the same
divisor as the forward pass (``count_include_pad`` decides whether padding cells count); the
share that lands on padding cells is dropped.

Average pooling's backward is the mirror image of its forward: where the forward *reads* one
strided slice of the padded input per kernel offset, the backward *adds into* it. Max pooling's
adds each output's gradient at its winner's index (``scatter_add_``), so shared winners sum.
"""

from __future__ import annotations

import torch

from cnnedu.pooling import (
    PoolSettings,
    Size2,
    _avg_divisor,
    _check_input,
    _lowest,
    _pad_for,
    _shifted_slices,
    check_settings,
    pool2d,
)


def _slices(st: PoolSettings, out_hw: tuple[int, int]):
    """The (row slice, col slice) of the padded input that kernel offset (i, j) reads."""
    (kh, kw), (sh, sw), (dh, dw) = st.kernel_size, st.stride, st.dilation
    out_h, out_w = out_hw
    for i in range(kh):
        for j in range(kw):
            yield (slice(i * dh, i * dh + (out_h - 1) * sh + 1, sh),
                   slice(j * dw, j * dw + (out_w - 1) * sw + 1, sw))


def _winners(x4: torch.Tensor, st: PoolSettings, out_hw: tuple[int, int]) -> torch.Tensor:
    """For every window, the kernel offset (0 .. k*k-1, row-major) of its first maximum."""
    padded = _pad_for(x4, st, out_hw, _lowest(x4.dtype))
    best = winner = None
    for offset, view in enumerate(_shifted_slices(padded, st, out_hw)):
        if best is None:
            best, winner = view.clone(), torch.zeros(view.shape, dtype=torch.long,
                                                     device=x4.device)
            continue
        better = (view > best) | (view.isnan() & ~best.isnan())   # strictly larger, or NaN
        best = torch.where(better, view, best)
        winner = torch.where(better, torch.full_like(winner, offset), winner)
    return winner


def pool2d_backward(x: torch.Tensor, grad_out: torch.Tensor, kernel_size: Size2,
                    stride: Size2 | None = None, padding: Size2 = 0, dilation: Size2 = 1,
                    ceil_mode: bool = False, mode: str = "max",
                    count_include_pad: bool = True) -> torch.Tensor:
    """The gradient of ``pool2d(x, ...).mul(grad_out).sum()`` with respect to ``x``.

    ``x``: (C, H, W) or (N, C, H, W), floating point; ``grad_out``: the shape of the pooled
    output. Same settings and rules as :func:`cnnedu.pooling.pool2d`. Returns ``x``'s shape.
    """
    _check_input(x, mode)
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be floating point to have a gradient, got dtype {x.dtype}")
    st = check_settings(kernel_size, stride, padding, dilation, ceil_mode, mode)
    out_hw = st.output_hw(tuple(x.shape[-2:]))
    x4 = x if x.dim() == 4 else x.unsqueeze(0)
    g4 = grad_out if grad_out.dim() == 4 else grad_out.unsqueeze(0)
    expected = (*x4.shape[:2], *out_hw)
    if tuple(g4.shape) != expected:
        raise ValueError(f"grad_out must have the pooled output's shape {expected[-x.dim():]}, "
                         f"got {tuple(grad_out.shape)}")
    grad_padded = _pad_for(torch.zeros_like(x4), st, out_hw, 0.0)
    if mode == "max":
        winner = _winners(x4, st, out_hw)             # kernel offset of each window's maximum
        (sh, sw), (dh, dw), kw = st.stride, st.dilation, st.kernel_size[1]
        rows = torch.arange(out_hw[0], device=x.device)[:, None] * sh + winner // kw * dh
        cols = torch.arange(out_hw[1], device=x.device)[None, :] * sw + winner % kw * dw
        flat = (rows * grad_padded.shape[-1] + cols).flatten(2)
        # scatter_ADD: where overlapping windows share a winner, their gradients add up.
        grad_padded.flatten(2).scatter_add_(2, flat, g4.flatten(2))
    else:
        height, width = x4.shape[-2:]
        div_h = _avg_divisor(height, st.kernel_size[0], st.stride[0], st.padding[0], out_hw[0],
                             count_include_pad)
        div_w = _avg_divisor(width, st.kernel_size[1], st.stride[1], st.padding[1], out_hw[1],
                             count_include_pad)
        share = g4 / (div_h[:, None] * div_w[None, :]).to(g4.device, g4.dtype)
        for rows, cols in _slices(st, out_hw):
            grad_padded[..., rows, cols] += share
    (ph, pw), (height, width) = st.padding, x4.shape[-2:]
    grad = grad_padded[..., ph:ph + height, pw:pw + width]     # padding cells get nothing
    return grad.contiguous() if x.dim() == 4 else grad.squeeze(0).contiguous()


class Pool2dFunction(torch.autograd.Function):
    """``pool2d`` with the hand-written backward above (autograd only chains it to the rest)."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                mode="max", count_include_pad=True):
        ctx.settings = (kernel_size, stride, padding, dilation, ceil_mode, mode,
                        count_include_pad)
        ctx.save_for_backward(x)
        return pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, mode,
                      count_include_pad)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return (pool2d_backward(x, grad_out, *ctx.settings),) + (None,) * 7


def pool2d_hand(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
                padding: Size2 = 0, dilation: Size2 = 1,
                ceil_mode: bool = False, mode: str = "max",
                count_include_pad: bool = True) -> torch.Tensor:
    """``pool2d`` whose gradient is :func:`pool2d_backward` (same arguments as ``pool2d``)."""
    return Pool2dFunction.apply(x, kernel_size, stride, padding, dilation, ceil_mode, mode,
                                count_include_pad)
