"""Output sizes of sliding-window layers (convolution and pooling): one formula, shown filled in.

    out = floor((n + 2p - d(k-1) - 1) / s) + 1

with ``ceil`` instead of ``floor`` for pooling's ``ceil_mode``, where a last window that would
start in the right padding is dropped.
"""

from __future__ import annotations

import math


def sliding_output_length(size: int, kernel: int, stride: int = 1, padding: int = 0,
                          dilation: int = 1, ceil_mode: bool = False) -> int:
    """The formula's value for one dimension; may be < 1 when no window fits (callers check)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:  # last window starts in the padding
        out -= 1
    return out


def sliding_formula(size: int, kernel: int, stride: int = 1, padding: int = 0,
                    dilation: int = 1, ceil_mode: bool = False) -> str:
    """The formula for one dimension with the numbers filled in, and its result."""
    rounding = "ceil" if ceil_mode else "floor"
    text = (f"out = {rounding}(({size} + 2*{padding} - {dilation}*({kernel}-1) - 1) / {stride})"
            " + 1")
    length = sliding_output_length(size, kernel, stride, padding, dilation, ceil_mode)
    if length < 1:
        return f"{text} < 1  (illegal: no window fits)"
    plain = (math.ceil if ceil_mode else math.floor)(
        (size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1
    note = "  (last window dropped: it would start in the padding)" if plain != length else ""
    return f"{text} = {length}{note}"


def conv_output_size(in_size: tuple[int, int], kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> tuple[int, int]:
    """(H, W) output of a square-kernel ``nn.Conv2d``; ValueError naming the rule if illegal."""
    for name, value, low in (("kernel_size", kernel, 1), ("stride", stride, 1),
                             ("dilation", dilation, 1), ("padding", padding, 0)):
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {name}={value}")
    out = tuple(sliding_output_length(n, kernel, stride, padding, dilation) for n in in_size)
    if min(out) < 1:
        span = dilation * (kernel - 1) + 1
        raise ValueError(f"the (dilated) kernel spans {span} pixels but the padded input is only "
                         f"{min(in_size) + 2 * padding}: output would be {out}. Use a smaller "
                         "kernel or dilation, or more padding.")
    return out
