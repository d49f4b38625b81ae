"""2-D max and average pooling written from scratch, with PyTorch's exact rules and clear errors.

``pool2d`` pads the input and reduces its windows: for each of the k*k offsets inside a
window it takes one strided view of the padded input (every window's pixel at that offset) and
folds it into a running maximum or sum. ``pooling_windows`` shows the same windows as an
``unfold`` view, the clearest picture for a learner. It never calls torch's pooling functions, and
it equals ``F.max_pool2d`` / ``F.avg_pool2d`` for every setting they accept; settings they
reject raise ``ValueError`` here with a message that names the parameter, the rule and the value.

The rules (per dimension, as PyTorch 2.x enforces them):

* ``kernel_size >= 1``, ``stride >= 1`` (``stride=None`` means ``stride = kernel_size``),
  ``dilation >= 1``, ``padding >= 0``;
* ``padding <= kernel_size // 2`` -- half the *kernel*, not of the dilated window;
* output size ``floor_or_ceil((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``, and in
  ``ceil_mode`` the last window is dropped if it would start in the right padding or beyond;
  the output must be at least 1;
* average pooling has no dilation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import torch
import torch.nn.functional as F

from cnnedu.shapes import check_at_least, sliding_output_size

Pair = tuple[int, int]
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


def check_settings(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
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


def output_size(in_size, kernel_size, stride=None, padding=0, dilation=1,
                ceil_mode: bool = False):
    """Output size of pooling an input of ``in_size`` (an int, or an (H, W) pair: same form back).

    Raises ``PoolingError`` (a ValueError) when the settings are illegal or the output would be
    smaller than 1, naming the dimension and showing the formula with the numbers filled in.
    """
    single = isinstance(in_size, Integral) and not isinstance(in_size, bool)
    size = _pair(in_size, "in_size")
    if min(size) < 1:
        raise PoolingError(f"in_size must be at least 1, got in_size={in_size!r}")
    st = check_settings(kernel_size, stride, padding, dilation, ceil_mode)
    out = sliding_output_size(size, st.kernel_size, st.stride, st.padding, st.dilation, ceil_mode,
                              names=("size", "size") if single else ("height", "width"),
                              error=PoolingError)
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


def _pad_for(x4: torch.Tensor, st: PoolSettings, out_hw: Pair, fill: float) -> torch.Tensor:
    """Pad ``x4`` by ``padding`` on every side, plus whatever ceil_mode's last window needs."""
    (ph, pw), (sh, sw) = st.padding, st.stride
    eh, ew = st.effective_kernel
    height, width = x4.shape[-2:]
    # ceil_mode may let the last window hang past the right/bottom padding: pad a little more.
    extra_h = max(0, (out_hw[0] - 1) * sh + eh - (height + 2 * ph))
    extra_w = max(0, (out_hw[1] - 1) * sw + ew - (width + 2 * pw))
    return F.pad(x4, (pw, pw + extra_w, ph, ph + extra_h), value=fill)


def pooling_windows(x: torch.Tensor, kernel_size, stride=None, padding=0, dilation=1,
                    ceil_mode: bool = False, fill: float = 0.0) -> torch.Tensor:
    """Every pooling window of ``x`` (N, C, H, W) as a view of shape (N, C, outH, outW, kH, kW).

    The clearest picture of pooling: ``pooling_windows(x, ...).amax((-1, -2))`` is max pooling
    (with ``fill=-inf``), ``.mean((-1, -2))`` average pooling with padding counted. ``unfold``
    makes the view without copying, but reducing it copies k*k values per output, so
    :func:`pool2d` uses the equivalent, faster sum over k*k shifted strided slices instead.
    """
    st = check_settings(kernel_size, stride, padding, dilation, ceil_mode)
    out_hw = output_size(tuple(x.shape[-2:]), st.kernel_size, st.stride, st.padding,
                         st.dilation, ceil_mode)
    padded = _pad_for(x, st, out_hw, fill)
    (sh, sw), (dh, dw) = st.stride, st.dilation
    eh, ew = st.effective_kernel
    windows = padded.unfold(-2, eh, sh).unfold(-2, ew, sw)[..., :out_hw[0], :out_hw[1], :, :]
    return windows[..., ::dh, ::dw]


def _shifted_slices(padded: torch.Tensor, st: PoolSettings, out_hw: Pair):
    """Yield, for each kernel offset (i, j), the strided view of the pixels it sees in every window.

    Slice (i, j) has the output's shape; its element [r, c] is the input pixel at offset (i, j)
    of window (r, c). Reducing across the k*k slices is therefore the same as reducing each window.
    """
    (kh, kw), (sh, sw), (dh, dw) = st.kernel_size, st.stride, st.dilation
    out_h, out_w = out_hw
    for i in range(kh):
        for j in range(kw):
            yield padded[..., i * dh: i * dh + (out_h - 1) * sh + 1: sh,
                         j * dw: j * dw + (out_w - 1) * sw + 1: sw]


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


def pool2d(x: torch.Tensor, kernel_size, stride=None, padding=0, dilation=1,
           ceil_mode: bool = False, mode: str = "max",
           count_include_pad: bool = True) -> torch.Tensor:
    """Max or average pooling of ``x`` of shape (C, H, W) or (N, C, H, W), from scratch.

    Same arguments and result as ``F.max_pool2d`` (mode="max") or ``F.avg_pool2d``
    (mode="avg"; ``count_include_pad`` decides whether zero padding counts in the mean).
    """
    _check_input(x, mode)
    st = check_settings(kernel_size, stride, padding, dilation, ceil_mode, mode)
    out_h, out_w = output_size(tuple(x.shape[-2:]), st.kernel_size, st.stride, st.padding,
                               st.dilation, ceil_mode)
    x4 = x if x.dim() == 4 else x.unsqueeze(0)
    if mode == "max":
        padded = _pad_for(x4, st, (out_h, out_w), _lowest(x.dtype))
        result = None
        for view in _shifted_slices(padded, st, (out_h, out_w)):
            # torch.maximum lets NaN win, exactly as max pooling does.
            result = view.clone() if result is None else torch.maximum(result, view)
    else:
        padded = _pad_for(x4, st, (out_h, out_w), 0)
        accumulate = (torch.int64 if not x.dtype.is_floating_point
                      else torch.float64 if x.dtype == torch.float64 else torch.float32)
        sums = torch.zeros((*x4.shape[:2], out_h, out_w), dtype=accumulate, device=x.device)
        for view in _shifted_slices(padded, st, (out_h, out_w)):
            sums += view
        height, width = x.shape[-2:]
        div_h = _avg_divisor(height, st.kernel_size[0], st.stride[0], st.padding[0], out_h,
                             count_include_pad)
        div_w = _avg_divisor(width, st.kernel_size[1], st.stride[1], st.padding[1], out_w,
                             count_include_pad)
        divisor = (div_h[:, None] * div_w[None, :]).to(sums.device)
        if x.dtype.is_floating_point:
            result = (sums / divisor.to(sums.dtype)).to(x.dtype)
        else:
            result = torch.div(sums, divisor.to(torch.float64), rounding_mode="trunc").to(x.dtype)
    return result if x.dim() == 4 else result.squeeze(0)


@dataclass(frozen=True)
class WindowExplanation:
    """Which input pixels produced output pixel (row, col), and (for max) which one won.

    ``rows``/``cols`` are the input coordinates the (dilated) window samples, which may lie in
    the padding (negative, or >= the input size); ``inside`` marks the ones in the input.
    """

    row: int
    col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    values: torch.Tensor          # (kH, kW) the sampled values, NaN where padding
    inside: torch.Tensor          # (kH, kW) bool
    argmax: tuple[int, int] | None  # input (row, col) of the winner, max mode only
    value: float                  # the output value
    in_pad_area: torch.Tensor | None = None  # (kH, kW) bool: in the input or its padding
    counted: torch.Tensor | None = None      # (kH, kW) bool: counts in the average's divisor

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of the window in input coordinates, inclusive."""
        return self.rows[0], self.cols[0], self.rows[-1], self.cols[-1]


def explain_output_pixel(x: torch.Tensor, row: int, col: int, kernel_size, stride=None,
                         padding=0, dilation=1, ceil_mode: bool = False, mode: str = "max",
                         count_include_pad: bool = True, channel: int = 0) -> WindowExplanation:
    """Explain output pixel (row, col) of ``pool2d`` on a (C, H, W) or (H, W) input.

    The window is found from the settings alone (start = index*stride - padding, then every
    ``dilation``-th pixel); the value is recomputed from it, so this is an independent check of
    ``pool2d``. Ties in max mode go to the first pixel in row-major order, as in PyTorch.
    """
    image = x if x.dim() == 3 else x.unsqueeze(0) if x.dim() == 2 else x
    _check_input(image, mode)
    st = check_settings(kernel_size, stride, padding, dilation, ceil_mode, mode)
    height, width = image.shape[-2:]
    out_h, out_w = output_size((height, width), st.kernel_size, st.stride, st.padding,
                               st.dilation, ceil_mode)
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise PoolingError(f"(row, col)=({row}, {col}) is outside the output of size "
                           f"({out_h}, {out_w})")
    rows = tuple(row * st.stride[0] - st.padding[0] + i * st.dilation[0]
                 for i in range(st.kernel_size[0]))
    cols = tuple(col * st.stride[1] - st.padding[1] + j * st.dilation[1]
                 for j in range(st.kernel_size[1]))
    r = torch.tensor(rows)[:, None]
    c = torch.tensor(cols)[None, :]
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    plane = image[channel]
    values = torch.full(inside.shape, math.nan, dtype=torch.float64)
    values[inside] = plane[r.clamp(0, height - 1), c.clamp(0, width - 1)].double()[inside]
    if mode == "max":
        real = torch.where(inside, values, torch.tensor(-math.inf, dtype=torch.float64))
        flat = int(torch.argmax(real.flatten()))  # first of equal maxima
        i, j = divmod(flat, len(cols))
        return WindowExplanation(row, col, rows, cols, values, inside, (rows[i], cols[j]),
                                 float(real.flatten()[flat]))
    # average: padding counts as zero; the divisor follows PyTorch's rule (_counted_range)
    masks = []
    for include in (True, count_include_pad):
        lo_r, hi_r = _counted_range(torch.tensor(rows[0]), height, st.kernel_size[0],
                                    st.padding[0], include)
        lo_c, hi_c = _counted_range(torch.tensor(cols[0]), width, st.kernel_size[1],
                                    st.padding[1], include)
        masks.append((r >= lo_r) & (r < hi_r) & (c >= lo_c) & (c < hi_c))
    in_pad_area, counted = masks
    total = float(values[inside].sum())
    return WindowExplanation(row, col, rows, cols, values, inside, None,
                             total / int(counted.sum()), in_pad_area, counted)
