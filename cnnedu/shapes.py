"""Output sizes of sliding-window layers (convolution and pooling): one formula, shown filled in.

    out = floor((n + 2p - d(k-1) - 1) / s) + 1

with ``ceil`` instead of ``floor`` for pooling's ``ceil_mode``, where a last window that would
start in the right padding is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


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


def check_at_least(name: str, value: int | tuple[int, ...], low: int,
                   error: type[ValueError] = ValueError) -> None:
    """Raise ``error`` naming the setting when ``value`` (an int or a pair) is below ``low``."""
    if min(value if isinstance(value, tuple) else (value,)) < low:
        raise error(f"{name} must be at least {low}, got {name}={value}")


def sliding_output_size(in_size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                        padding: Sequence[int], dilation: Sequence[int], ceil_mode: bool = False,
                        names: Sequence[str] = ("height", "width"),
                        error: type[ValueError] = ValueError) -> tuple[int, ...]:
    """Output length per dimension (settings already checked), for convolution and pooling alike.

    When no window fits along a dimension, ``error`` says which one, shows the formula with the
    numbers filled in and how far the (dilated) kernel overshoots the padded input.
    """
    out = []
    for name, n, k, s, p, d in zip(names, in_size, kernel, stride, padding, dilation, strict=True):
        length = sliding_output_length(n, k, s, p, d, ceil_mode)
        if length < 1:
            raise error(
                f"output {name} would be {length}: ({n} + 2*{p} - {d}*({k}-1) - 1) / {s} + 1 < 1; "
                f"the (dilated) kernel of {d * (k - 1) + 1} does not fit in the padded input of "
                f"{n + 2 * p}. Use a smaller kernel or dilation, or more padding.")
        out.append(length)
    return tuple(out)


def conv_output_size(in_size: tuple[int, int], kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> tuple[int, int]:
    """(H, W) output of a square-kernel ``nn.Conv2d``; ValueError naming the rule if illegal."""
    for name, value, low in (("kernel_size", kernel, 1), ("stride", stride, 1),
                             ("dilation", dilation, 1), ("padding", padding, 0)):
        check_at_least(name, value, low)
    return sliding_output_size(in_size, (kernel,) * 2, (stride,) * 2, (padding,) * 2,
                               (dilation,) * 2)
