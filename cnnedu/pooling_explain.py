"""Why an output pixel of pooling has its value: its window, its winner, its divisor.

:func:`explain_output_pixel` finds a window from the settings alone and recomputes its value,
an independent check of :func:`cnnedu.pooling.pool2d` that the pooling explorer draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from cnnedu.pooling_rules import (
    PoolingError,
    Size2,
    _check_input,
    _counted_range,
    check_settings,
)


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


def explain_output_pixel(x: torch.Tensor, row: int, col: int, kernel_size: Size2,
                         stride: Size2 | None = None, padding: Size2 = 0, dilation: Size2 = 1,
                         ceil_mode: bool = False, mode: str = "max",
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
    out_h, out_w = st.output_hw((height, width))
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
