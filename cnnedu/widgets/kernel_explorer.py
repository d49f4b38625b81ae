"""The convolution counterpart of the pooling explorer: pick an image and a kernel, see the map.

Kernels come from presets (identity, box blur, Gaussian, sharpen, Sobel x/y, Laplacian, and any
trained filters added with :meth:`KernelExplorer.add_kernels`, e.g. AlexNet's first layer) or are
edited cell by cell in a 3x3 or 5x5 grid. Stride, padding and dilation sliders change the output
size, shown with the formula filled in. Illegal settings (a kernel larger than the padded image,
non-finite weights) are explained in words; no callback lets an exception escape.
"""

from __future__ import annotations

import html
import math
import time

import ipywidgets as widgets
import numpy as np
import torch
import torch.nn.functional as F

from cnnedu.shapes import conv_output_size
from cnnedu.widgets.common import default_images, formula_html, problem_html
from cnnedu.widgets.render import fit_factor, show, to_rgb, upscale

DISPLAY = 320
MAX_SIZE = 5


def _gauss(n: int) -> torch.Tensor:
    row = torch.tensor([math.comb(n - 1, i) for i in range(n)], dtype=torch.float32)
    return torch.outer(row, row) / row.sum() ** 2


PRESETS: dict[str, torch.Tensor] = {
    "identity": torch.tensor([[0., 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box blur": torch.full((3, 3), 1 / 9),
    "Gaussian 3×3": _gauss(3),
    "Gaussian 5×5": _gauss(5),
    "sharpen": torch.tensor([[0., -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "Sobel x": torch.tensor([[-1., 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y": torch.tensor([[-1., -2, -1], [0, 0, 0], [1, 2, 1]]),
    "Laplacian": torch.tensor([[0., 1, 0], [1, -4, 1], [0, 1, 0]]),
}
CUSTOM = "custom (edited)"


def _resize_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Centre ``kernel`` in a ``size`` x ``size`` grid: zero-pad when growing, crop when shrinking."""
    current = kernel.shape[-1]
    if current == size:
        return kernel.clone()
    if current < size:
        pad = (size - current) // 2
        return F.pad(kernel, (pad, pad, pad, pad))
    cut = (current - size) // 2
    return kernel[cut:cut + size, cut:cut + size].clone()


class KernelExplorer:
    """Build with ``KernelExplorer()`` and display it; ``images`` maps names to (1, H, W) in [0, 1]."""

    def __init__(self, images: dict[str, torch.Tensor] | None = None, photo_size: int = 512,
                 fashion_samples: int = 4, kernels: dict[str, torch.Tensor] | None = None):
        self.images = images if images is not None else default_images(photo_size,
                                                                        fashion_samples)
        if not self.images:
            raise ValueError("KernelExplorer needs at least one image")
        self.presets = dict(PRESETS)
        self.last_update_ms = float("nan")
        self.error: str | None = None
        self.output: torch.Tensor | None = None
        style = {"description_width": "80px"}
        layout = widgets.Layout(width="300px")
        self.image = widgets.Dropdown(options=list(self.images), description="image",
                                      style=style, layout=widgets.Layout(width="400px"))
        self.preset = widgets.Dropdown(options=[*self.presets, CUSTOM], value="Sobel x",
                                       description="kernel", style=style,
                                       layout=widgets.Layout(width="400px"))
        self.size = widgets.ToggleButtons(options=[3, 5], value=3, description="size",
                                          style=style)
        self.stride = widgets.IntSlider(1, 1, 8, description="stride", style=style, layout=layout)
        self.padding = widgets.IntSlider(1, 0, 8, description="padding", style=style,
                                         layout=layout)
        self.dilation = widgets.IntSlider(1, 1, 4, description="dilation", style=style,
                                          layout=layout)
        self.cells = [widgets.FloatText(0.0, layout=widgets.Layout(width="64px"))
                      for _ in range(MAX_SIZE * MAX_SIZE)]
        self.grid = widgets.GridBox(self.cells, layout=widgets.Layout(
            grid_template_columns=f"repeat({MAX_SIZE}, 70px)"))
        self.input_view = widgets.Image(format="png")
        self.output_view = widgets.Image(format="png")
        self.input_label, self.output_label = widgets.HTML(), widgets.HTML()
        self.formula, self.message, self.stats = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self._updating = False
        for control in (self.image, self.stride, self.padding, self.dilation):
            control.observe(self._on_change, names="value")
        self.preset.observe(self._on_preset, names="value")
        self.size.observe(self._on_size, names="value")
        for cell in self.cells:
            cell.observe(self._on_cell, names="value")
        if kernels:
            self.add_kernels(kernels)
        controls = widgets.VBox([self.image, self.preset, self.size, self.stride, self.padding,
                                 self.dilation])
        self.widget = widgets.VBox([
            widgets.HBox([controls, widgets.VBox([widgets.HTML("<b>kernel weights</b>"),
                                                  self.grid])]),
            self.formula, self.message,
            widgets.HBox([widgets.VBox([self.input_label, self.input_view]),
                          widgets.VBox([self.output_label, self.output_view])]),
            self.stats])
        self.widget.add_class("cnnedu-kernel-explorer")
        self._load_preset("Sobel x")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # --- the kernel -------------------------------------------------------------------------
    def add_kernels(self, kernels: dict[str, torch.Tensor]) -> None:
        """Offer more kernels as presets (each 2-D, at most 5x5, odd size), e.g. trained filters."""
        for name, kernel in kernels.items():
            kernel = torch.as_tensor(kernel, dtype=torch.float32).squeeze()
            if kernel.dim() != 2 or kernel.shape[0] != kernel.shape[1] or \
                    kernel.shape[0] not in (1, 3, 5):
                raise ValueError(f"kernel {name!r} must be square 1x1, 3x3 or 5x5, "
                                 f"got shape {tuple(kernel.shape)}")
            self.presets[name] = kernel
        self.preset.options = [*self.presets, CUSTOM]

    def kernel(self) -> torch.Tensor:
        """The kernel currently in the grid, (size, size)."""
        size = self.size.value
        values = [self.cells[r * MAX_SIZE + c].value for r in range(size) for c in range(size)]
        return torch.tensor(values, dtype=torch.float32).view(size, size)

    def _write_grid(self, kernel: torch.Tensor) -> None:
        size = kernel.shape[-1]
        for r in range(MAX_SIZE):
            for c in range(MAX_SIZE):
                cell = self.cells[r * MAX_SIZE + c]
                inside = r < size and c < size
                cell.value = float(kernel[r, c]) if inside else 0.0
                cell.layout.visibility = "visible" if inside else "hidden"

    def _load_preset(self, name: str) -> None:
        self._updating = True
        try:
            kernel = self.presets[name]
            size = 5 if kernel.shape[-1] > 3 else 3
            self.size.value = size
            self._write_grid(_resize_kernel(kernel, size))
        finally:
            self._updating = False
        self.update()

    def _on_preset(self, change: dict) -> None:
        if not self._updating and change["new"] != CUSTOM:
            self._load_preset(change["new"])

    def _on_size(self, change: dict) -> None:
        if self._updating:
            return
        old = change["old"]
        values = [self.cells[r * MAX_SIZE + c].value for r in range(old) for c in range(old)]
        kernel = torch.tensor(values, dtype=torch.float32).view(old, old)
        self._updating = True
        try:
            self._write_grid(_resize_kernel(kernel, change["new"]))
        finally:
            self._updating = False
        self.update()

    def _on_cell(self, change: dict) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            self.preset.value = CUSTOM
        finally:
            self._updating = False
        self.update()

    def _on_change(self, change: dict) -> None:
        if not self._updating:
            self.update()

    # --- drawing ----------------------------------------------------------------------------
    def update(self) -> None:
        """Recompute and redraw; any failure becomes a message, never a traceback."""
        start = time.perf_counter()
        self._updating = True
        try:
            self._render()
            self.error = None
            self.message.value = ""
        except Exception as err:  # noqa: BLE001 - a widget must never show a traceback
            self.error = str(err)
            self.message.value = problem_html(str(err))
            self.output = None
            self.output_label.value = "<b>feature map</b>: none"
        finally:
            self._updating = False
        self.last_update_ms = (time.perf_counter() - start) * 1000

    def _render(self) -> None:
        image = self.images[self.image.value]
        height, width = image.shape[-2:]
        k, s, p, d = self.size.value, self.stride.value, self.padding.value, self.dilation.value
        self.formula.value = formula_html(height, width, k, s, p, d)
        kernel = self.kernel()
        if not torch.isfinite(kernel).all():
            raise ValueError("every kernel weight must be a finite number")
        out_h, out_w = conv_output_size((height, width), k, s, p, d)
        self.output = F.conv2d(image[None], kernel[None, None], stride=s, padding=p,
                               dilation=d)[0]
        in_factor = fit_factor(height, width, DISPLAY)
        show(self.input_view, upscale(to_rgb(image, 0.0, 1.0), in_factor))
        self.input_label.value = f"<b>input</b>: {height}×{width}"
        out = self.output[0]
        if float(out.min()) >= 0:
            rgb = to_rgb(out, 0.0, max(float(out.max()), 1e-12), cmap="gray")
            scale = "grey: 0 (black) to max (white)"
        else:
            bound = max(float(out.abs().max()), 1e-12)
            rgb = to_rgb(out, -bound, bound, cmap="RdBu_r")
            scale = "blue negative, white 0, red positive"
        show(self.output_view, upscale(rgb, fit_factor(out_h, out_w, DISPLAY)))
        self.output_label.value = f"<b>feature map</b>: {out_h}×{out_w} ({scale})"
        self.stats.value = self._stats_html(kernel, out)

    @staticmethod
    def _stats_html(kernel: torch.Tensor, out: torch.Tensor) -> str:
        total = float(kernel.sum())
        meaning = ("keeps the average brightness" if abs(total - 1) < 1e-3 else
                   "gives 0 on flat regions: it responds only to change" if abs(total) < 1e-3
                   else "scales the brightness")
        text = (f"kernel sum {total:.3f} ({meaning}); output range "
                f"[{float(out.min()):.3f}, {float(out.max()):.3f}], mean |value| "
                f"{float(out.abs().mean()):.3f}")
        return f"<div class='cnnedu-stats'>{html.escape(text)}</div>"


def first_layer_kernels(model: torch.nn.Module, count: int = 8) -> dict[str, np.ndarray]:
    """The first ``count`` filters of a model's first Conv2d (input channel 0), by name."""
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    weight = conv.weight.detach().float().cpu()
    return {f"trained filter {i}": weight[i, 0] for i in range(min(count, len(weight)))}
