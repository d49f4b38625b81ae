"""The zoom panel: one output pixel's window as a small grid of numbers, and its arithmetic.

For pooling the window comes from :func:`cnnedu.pooling.explain_output_pixel`; for convolution
from :func:`explain_conv_pixel` here (window start = index*stride - padding, every
``dilation``-th pixel, zero padding), an independent re-computation that the tests check against
``F.conv2d``. Every number cell carries its exact value in ``data-value`` so tests (and curious
learners with the browser's inspector) can read it back.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import torch

from cnnedu.pooling import WindowExplanation

FULL_GRID_LIMIT = 13   # draw dilation gaps as empty cells while the window spans this few pixels
CSS = """
/* coloured cells set their own text colour, and notes get a light one in dark themes
   (JupyterLab and Notebook 7 dark, VS Code dark): text keeps 4.5:1 contrast */
.cnnedu-zoom td { padding: 1px 4px; border: 1px solid #ccc; text-align: right;
  min-width: 3.2em; font-variant-numeric: tabular-nums; }
.cnnedu-zoom td.cnnedu-pad { background: #dde; color: #448; }
.cnnedu-zoom td.cnnedu-gap { background: #f4f4f4; color: #666; text-align: center; }
.cnnedu-zoom td.cnnedu-max { background: #ffd0c0; color: #201000; font-weight: bold;
  outline: 2px solid #ff4020; }
body[data-jp-theme-light="false"] .cnnedu-note, body.vscode-dark .cnnedu-note {
  color: #f0b45a !important; }
.cnnedu-zoom-empty { color: #666; }
body[data-jp-theme-light="false"] .cnnedu-zoom-empty, body.vscode-dark .cnnedu-zoom-empty {
  color: #aaa; }
.cnnedu-zoom table { border-collapse: collapse; margin: 2px 8px 2px 0; }
.cnnedu-zoom caption { font-size: 11px; }
"""


def fmt(value: float) -> str:
    """A number as a learner reads it: whole numbers plainly, others with 3 decimals."""
    if math.isinf(value):
        return "−∞" if value < 0 else "∞"
    if math.isnan(value):
        return "nan"
    if value == round(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3f}"


@dataclass(frozen=True)
class ConvWindow:
    """Output pixel (row, col) of a convolution: the window, the products and their sum."""

    row: int
    col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    values: torch.Tensor     # (k, k) input values, 0 where padding
    inside: torch.Tensor     # (k, k) bool
    products: torch.Tensor   # values * kernel
    value: float             # the sum of the products


def explain_conv_pixel(image: torch.Tensor, kernel: torch.Tensor, row: int, col: int,
                       stride: int = 1, padding: int = 0, dilation: int = 1) -> ConvWindow:
    """Window x kernel for output pixel (row, col) of ``F.conv2d(image[None], kernel[None, None])``.

    ``image`` is (1, H, W) or (H, W). PyTorch's convolution is a cross-correlation: the kernel
    is not flipped, so weight [i, j] multiplies the window's pixel [i, j].
    """
    plane = image[0] if image.dim() == 3 else image
    height, width = plane.shape
    size = kernel.shape[-1]
    rows = tuple(row * stride - padding + i * dilation for i in range(size))
    cols = tuple(col * stride - padding + j * dilation for j in range(size))
    r = torch.tensor(rows)[:, None]
    c = torch.tensor(cols)[None, :]
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    if not inside.any() and (rows[0] >= height + padding or cols[0] >= width + padding):
        raise ValueError(f"output pixel ({row}, {col}) lies outside the output")
    values = torch.zeros(inside.shape, dtype=torch.float64)
    values[inside] = plane[r.clamp(0, height - 1), c.clamp(0, width - 1)].double()[inside]
    products = values * kernel.double()
    return ConvWindow(row, col, rows, cols, values, inside, products, float(products.sum()))


def _span(coords: tuple[int, ...]) -> str:
    return f"{coords[0]}..{coords[-1]}"


def where_html(row: int, col: int, rows: tuple[int, ...], cols: tuple[int, ...]) -> str:
    """The sentence naming the output pixel and its window's input rows and columns."""
    return (f"<div class='cnnedu-zoom-where' data-row='{row}' data-col='{col}' "
            f"data-rows='{_span(rows)}' data-cols='{_span(cols)}'><b>output ({row}, {col})</b> "
            f"← input rows {_span(rows)}, columns {_span(cols)}</div>")


def _grid(cells: list[list[str]], dilation: int, caption: str) -> str:
    """A table of cell HTML; with dilation > 1 (and a small window) gaps are shown as dots."""
    size = len(cells)
    full = dilation > 1 and (size - 1) * dilation + 1 <= FULL_GRID_LIMIT
    step = dilation if full else 1
    extent = (size - 1) * step + 1
    gap = "<td class='cnnedu-gap'>·</td>"
    lines = [f"<table class='cnnedu-zoom-grid'><caption>{caption}</caption>"]
    for gr in range(extent):
        lines.append("<tr>")
        for gc in range(extent):
            if gr % step or gc % step:
                lines.append(gap)
            else:
                lines.append(cells[gr // step][gc // step])
        lines.append("</tr>")
    lines.append("</table>")
    note = ""
    if dilation > 1:
        note = (f"<div style='font-size:11px'>dilation {dilation}: the window skips "
                f"{dilation - 1} pixel(s) between samples"
                + (" (· = skipped)" if full else " (gaps not drawn: window too wide)") + "</div>")
    return "".join(lines) + note


def _cell(text: str, value: float, cls: str = "cnnedu-cell", title: str = "") -> str:
    tip = f" title='{html.escape(title)}'" if title else ""
    return f"<td class='{cls}' data-value='{value!r}'{tip}>{text}</td>"


def pooling_zoom_html(info: WindowExplanation, mode: str, output_value: float,
                      dilation: int, padding: int, in_hw: tuple[int, int],
                      count_include_pad: bool = True) -> str:
    """Zoom panel for pooling: the window's values (padding marked), the max or sum / count.

    For ``avg`` the count follows PyTorch: padding cells count when ``count_include_pad``, and
    cells past the padding (a ``ceil_mode`` window hanging over the edge) never count.
    """
    k_h, k_w = info.values.shape
    cells = []
    for i in range(k_h):
        line = []
        for j in range(k_w):
            if not bool(info.inside[i, j]):
                if mode == "max":
                    line.append(_cell("−∞<br><small>pad</small>", -math.inf, "cnnedu-pad",
                                      "padding: max pooling pads with −∞, so it never wins"))
                else:
                    counted = "counted" if bool(info.counted[i, j]) else "not counted"
                    line.append(_cell(f"0<br><small>pad, {counted}</small>", 0.0, "cnnedu-pad",
                                      f"padding: 0, {counted} in the average"))
                continue
            value = float(info.values[i, j])
            winner = (mode == "max" and info.argmax == (info.rows[i], info.cols[j]))
            text = fmt(value) + (" ★" if winner else "")
            line.append(_cell(text, value, "cnnedu-cell cnnedu-max" if winner
                              else "cnnedu-cell"))
        cells.append(line)
    grid = _grid(cells, dilation, f"window ({k_h}×{k_w}) of the input")
    result_value = (f"<span class='cnnedu-zoom-value' data-value='{output_value!r}'>"
                    f"{fmt(output_value)}</span>")
    if mode == "max":
        where = info.argmax
        result = (f"max of the window = {fmt(info.value)} (★, input pixel {where}) = "
                  f"output ({info.row}, {info.col}) = {result_value}")
    else:
        real = info.values[info.inside]
        total = float(real.sum())
        pads = int((info.in_pad_area & ~info.inside).sum())
        count = int(info.counted.sum())
        terms = " + ".join(fmt(float(v)) for v in real) if len(real) <= 9 else \
            f"sum of {len(real)} values"
        pad_text = (f" + {pads} padding zero(s)" if pads and count_include_pad else
                    f" ({pads} padding cell(s) not counted)" if pads else "")
        result = (f"({terms}{pad_text}) / {count} = {fmt(total)} / {count} = "
                  f"output ({info.row}, {info.col}) = {result_value}")
    return (where_html(info.row, info.col, info.rows, info.cols)
            + f"<div style='display:flex;align-items:center'>{grid}</div>"
            + f"<div class='cnnedu-zoom-result'>{result}</div>")


def conv_grids_html(win: ConvWindow, kernel: torch.Tensor, dilation: int,
                    window_caption: str = "window of the input",
                    kernel_caption: str = "kernel") -> str:
    """The three grids of one window: window × kernel = products (``data-value`` on each cell)."""
    size = kernel.shape[-1]
    window = [[_cell(fmt(float(win.values[i, j])) if bool(win.inside[i, j])
                     else "0<br><small>pad</small>", float(win.values[i, j]),
                     "cnnedu-cell" if bool(win.inside[i, j]) else "cnnedu-pad")
               for j in range(size)] for i in range(size)]
    weights = [[_cell(fmt(float(kernel[i, j])), float(kernel[i, j]), "cnnedu-weight")
                for j in range(size)] for i in range(size)]
    products = [[_cell(fmt(float(win.products[i, j])), float(win.products[i, j]),
                       "cnnedu-product") for j in range(size)] for i in range(size)]
    sign = "<span style='font-size:20px;margin:0 6px'>{}</span>"
    return (_grid(window, dilation, window_caption) + sign.format("×")
            + _grid(weights, 1, kernel_caption) + sign.format("=")
            + _grid(products, 1, "products"))


def conv_zoom_html(win: ConvWindow, kernel: torch.Tensor, output_value: float,
                   dilation: int, window_caption: str = "window of the input",
                   kernel_caption: str = "kernel", output_name: str = "output") -> str:
    """Zoom panel for convolution: window ⊙ kernel = products, their sum = the output value."""
    size = kernel.shape[-1]
    grids = conv_grids_html(win, kernel, dilation, window_caption, kernel_caption)
    result_value = (f"<span class='cnnedu-zoom-value' data-value='{output_value!r}'>"
                    f"{fmt(output_value)}</span>")
    result = (f"sum of the {size * size} products = {fmt(win.value)} = {output_name} "
              f"({win.row}, {win.col}) = {result_value}")
    return (where_html(win.row, win.col, win.rows, win.cols)
            + f"<div style='display:flex;align-items:center;flex-wrap:wrap'>{grids}</div>"
            + f"<div class='cnnedu-zoom-result'>{result}</div>")


def stale_html(text: str = "no window: the setting above is not allowed") -> str:
    """What the zoom panel shows when there is no valid output to point at."""
    return f"<div class='cnnedu-zoom-empty'>{html.escape(text)}</div>"
