"""2-D max and average pooling written from scratch, with PyTorch's exact rules and clear errors.

``pool2d`` pads the input and reduces its windows: for each of the k*k offsets inside a
window it takes one strided view of the padded input (every window's pixel at that offset) and
folds it into a running maximum or sum. ``pooling_windows`` shows the same windows as an
``unfold`` view, the clearest picture for a learner. It never calls torch's pooling functions, and
it equals ``F.max_pool2d`` / ``F.avg_pool2d`` for every setting they accept; settings they
reject raise ``ValueError`` here with a message that names the parameter, the rule and the value.

This module is the one to import: the rules and their checks live in
:mod:`cnnedu.pooling_rules`, the window explanation in :mod:`cnnedu.pooling_explain`, and both
are re-exported here, so ``from cnnedu.pooling import output_size, explain_output_pixel`` works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnedu.pooling_explain import WindowExplanation, explain_output_pixel
from cnnedu.pooling_rules import (
    MODES,
    Pair,
    PoolingError,
    PoolSettings,
    Size2,
    _avg_divisor,
    _check_input,
    _counted_range,
    _lowest,
    _pair,
    check_settings,
    output_size,
)

__all__ = ["MODES", "Pair", "PoolSettings", "PoolingError", "Size2", "WindowExplanation",
           "check_settings", "explain_output_pixel", "output_size", "pool2d", "pooling_windows",
           "_avg_divisor", "_check_input", "_counted_range", "_lowest", "_pad_for", "_pair",
           "_shifted_slices"]


def _pad_for(x4: torch.Tensor, st: PoolSettings, out_hw: Pair, fill: float) -> torch.Tensor:
    """Pad ``x4`` by ``padding`` on every side, plus whatever ceil_mode's last window needs."""
    (ph, pw), (sh, sw) = st.padding, st.stride
    eh, ew = st.effective_kernel
    height, width = x4.shape[-2:]
    # ceil_mode may let the last window hang past the right/bottom padding: pad a little more.
    extra_h = max(0, (out_hw[0] - 1) * sh + eh - (height + 2 * ph))
    extra_w = max(0, (out_hw[1] - 1) * sw + ew - (width + 2 * pw))
    return F.pad(x4, (pw, pw + extra_w, ph, ph + extra_h), value=fill)


def pooling_windows(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
                    padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False,
                    fill: float = 0.0) -> torch.Tensor:
    """Every pooling window of ``x`` (N, C, H, W) as a view of shape (N, C, outH, outW, kH, kW).

    The clearest picture of pooling: ``pooling_windows(x, ...).amax((-1, -2))`` is max pooling
    (with ``fill=-inf``), ``.mean((-1, -2))`` average pooling with padding counted. ``unfold``
    makes the view without copying, but reducing it copies k*k values per output, so
    :func:`pool2d` uses the equivalent, faster sum over k*k shifted strided slices instead.
    """
    st = check_settings(kernel_size, stride, padding, dilation, ceil_mode)
    out_hw = st.output_hw(tuple(x.shape[-2:]))
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


def pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
           padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False, mode: str = "max",
           count_include_pad: bool = True) -> torch.Tensor:
    """Max or average pooling of ``x`` of shape (C, H, W) or (N, C, H, W), from scratch.

    Same arguments and result as ``F.max_pool2d`` (mode="max") or ``F.avg_pool2d``
    (mode="avg"; ``count_include_pad`` decides whether zero padding counts in the mean).
    """
    _check_input(x, mode)
    st = check_settings(kernel_size, stride, padding, dilation, ceil_mode, mode)
    out_h, out_w = st.output_hw(tuple(x.shape[-2:]))
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
