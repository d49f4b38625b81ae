"""Pooling's settings and rules, checked once: PyTorch's exact rules with clear errors.

The rules (per dimension, as PyTorch 2.x enforces them):

* ``kernel_size >= 1``, ``stride >= 1`` (``stride=None`` means ``stride = kernel_size``),
  ``dilation >= 1``, ``padding >= 0``;
* ``padding <= kernel_size // 2`` -- half the *kernel*, not of the dilated window;
* output size ``floor_or_ceil((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``, and in
  ``ceil_mode`` the last window is dropped if it would start in the right padding or beyond;
  the output must be at least 1;
* average pooling has no dilation.

:func:`check_settings` turns user settings into a :class:`PoolSettings` of (height, width)
pairs; everything past it (:meth:`PoolSettings.output_hw`, ``pool2d``, the explanation, the
backward pass) takes that validated object, so each setting is checked exactly once per call.
The average-pooling divisor rule lives here too (:func:`_counted_range`), once, for the forward
pass, the backward pass and the window explanation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import torch

from cnnedu.shapes import check_at_least, sliding_output_size

Pair = tuple[int, int]
# An int or an (height, width) pair, as torch.nn.common_types._size_2_t types pooling's and
# convolution's arguments (that alias is private to torch, so the course names its own).
Size2 = int | tuple[int, int]
MODES = ("max", "avg")


class PoolingError(ValueError):
    """An illegal pooling setting; the message says which parameter, which rule and which value."""


def _pair(value: object, name: str, allow_none: bool = False) -> Pair | None:
    """Turn an int or a pair of ints into a pair, rejecting anything else with a TypeError."""
    if value is None and allow_none:
        return None
    if isinstance(value, Integral) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)):
        if allow_none and len(value) == 0:  # torch treats stride=[] as "same as kernel_size"
            return None
        if len(value) == 1:
            value = (value[0], value[0])
        if len(value) == 2 and all(isinstance(v, Integral) and not isinstance(v, bool)
                                   for v in value):
            return int(value[0]), int(value[1])
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


@dataclass(frozen=True)
class PoolSettings:
    """Validated pooling settings, every field a (height, width) pair."""

    kernel_size: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    ceil_mode: bool

    @property
    def effective_kernel(self) -> Pair:
        """Height and width of the dilated window: ``dilation * (kernel - 1) + 1``."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation, strict=True))

    def output_hw(self, in_hw: Pair, names: tuple[str, str] = ("height", "width")) -> Pair:
        """Output (height, width) for an input of ``in_hw`` under these (validated) settings;
        ``PoolingError`` naming the dimension when no window fits."""
        return sliding_output_size(in_hw, self.kernel_size, self.stride, self.padding,
                                   self.dilation, self.ceil_mode, names=names,
                                   error=PoolingError)


def check_settings(kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0,
                   dilation: Size2 = 1, ceil_mode: bool = False,
                   mode: str = "max") -> PoolSettings:
    """Validate pooling settings (without an input size) and return them as pairs."""
    if mode not in MODES:
        raise PoolingError(f"mode must be 'max' or 'avg', got {mode!r}")
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    k = _pair(kernel_size, "kernel_size")
    s = _pair(stride, "stride", allow_none=True) or k
    p = _pair(padding, "padding")
    d = _pair(dilation, "dilation")
    for name, pair, low in (("kernel_size", k, 1), ("stride", s, 1), ("dilation", d, 1),
                            ("padding", p, 0)):
        check_at_least(name, pair, low, PoolingError)
    if mode == "avg" and d != (1, 1):
        raise PoolingError(f"average pooling has no dilation (it must be 1), got dilation={d}")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise PoolingError(
            f"padding must be at most half the kernel size (kernel_size // 2 = "
            f"{(k[0] // 2, k[1] // 2)} for kernel_size={k}), got padding={p}"
        )
    return PoolSettings(k, s, p, d, ceil_mode)


def output_size(in_size: Size2, kernel_size: Size2, stride: Size2 | None = None,
                padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False) -> Size2:
    """Output size of pooling an input of ``in_size`` (an int, or an (H, W) pair: same form back).

    Raises ``PoolingError`` (a ValueError) when the settings are illegal or the output would be
    smaller than 1, naming the dimension and showing the formula with the numbers filled in.
    """
    single = isinstance(in_size, Integral) and not isinstance(in_size, bool)
    size = _pair(in_size, "in_size")
    if min(size) < 1:
        raise PoolingError(f"in_size must be at least 1, got in_size={in_size!r}")
    st = check_settings(kernel_size, stride, padding, dilation, ceil_mode)
    out = st.output_hw(size, names=("size", "size") if single else ("height", "width"))
    return out[0] if single else out


def _check_input(x: object, mode: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4):
        raise PoolingError(
            f"x must have shape (C, H, W) or (N, C, H, W), got {x.dim()} dimensions "
            f"{tuple(x.shape)}" + (" -- add a channel dimension with x[None]" if x.dim() == 2
                                   else "")
        )
    if any(n == 0 for n in x.shape[-3:]):
        raise PoolingError(f"x must have non-empty C, H and W, got shape {tuple(x.shape)}")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"pooling needs a real number tensor, got dtype {x.dtype}")
    if mode == "avg" and not x.dtype.is_floating_point and x.dtype != torch.int64:
        raise TypeError(f"average pooling of {x.dtype} is not supported (as in PyTorch, only "
                        "floating point and int64): convert with x.float() first")
    return x


def _lowest(dtype: torch.dtype) -> float:
    return -math.inf if dtype.is_floating_point else torch.iinfo(dtype).min


def _counted_range(start: torch.Tensor, size: int, k: int, p: int,
                   include_pad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The one divisor rule of average pooling, along one axis, as PyTorch defines it: the
    positions ``[lo, hi)`` of a window starting at ``start`` that count in its mean. Padding
    counts when ``include_pad``; positions past the padding (a ``ceil_mode`` window hanging
    over the edge) never count."""
    end = torch.clamp(start + k, max=size + p)
    if include_pad:
        return start, end
    return torch.clamp(start, min=0), torch.clamp(end, max=size)


def _avg_divisor(size: int, k: int, s: int, p: int, out: int, include_pad: bool) -> torch.Tensor:
    """Per-output divisor along one axis (see :func:`_counted_range`)."""
    lo, hi = _counted_range(torch.arange(out) * s - p, size, k, p, include_pad)
    return (hi - lo).to(torch.float64)


