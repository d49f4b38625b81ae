"""The convolution counterpart of the pooling explorer: pick an image and a kernel, see the map.

Kernels come from presets (identity, box blur, Gaussian, sharpen, Sobel x/y, Laplacian, and any
trained filters added with :meth:`KernelExplorer.add_kernels`, e.g. AlexNet's first layer) or are
edited cell by cell in a 3x3 or 5x5 grid. Stride, padding and dilation sliders change the output
size, shown with the formula filled in. Illegal settings (a kernel larger than the padded image,
non-finite weights) are explained in words; no callback lets an exception escape.

Pointing at an output pixel (or the window row/col sliders, or play) shows the window on the
input and, in the zoom panel, window × kernel = the products, whose sum is the output value.
Weights are shown rounded to 3 significant digits (the computation uses the exact values); a
typed weight that is not a finite number is refused with a note saying so.
"""

from __future__ import annotations

import html
import math

import ipywidgets as widgets
import torch
import torch.nn.functional as F

from cnnedu.shapes import conv_output_size
from cnnedu.widgets.base import WindowExplorer
from cnnedu.widgets.common import default_images, formula_html, limit_note, note_html
from cnnedu.widgets.kernels import (  # noqa: F401 (re-exported: lessons and tests import them here)
    CUSTOM,
    PRESETS,
    _resize_kernel,
    first_layer_kernels,
    weight_text,
)
from cnnedu.widgets.panels import PixelPanels, panel
from cnnedu.widgets.render import to_rgb
from cnnedu.widgets.zoom import conv_zoom_html, explain_conv_pixel, fmt

DISPLAY = 360
MAX_SIZE = 5


class KernelExplorer(WindowExplorer):
    """Build with ``KernelExplorer()`` and display it; ``images`` maps names to (1, H, W) in [0, 1]."""

    def __init__(self, images: dict[str, torch.Tensor] | None = None, photo_size: int = 512,
                 fashion_samples: int = 4, kernels: dict[str, torch.Tensor] | None = None):
        self.images = images if images is not None else default_images(photo_size,
                                                                        fashion_samples)
        if not self.images:
            raise ValueError("KernelExplorer needs at least one image")
        self.presets = dict(PRESETS)
        self.output: torch.Tensor | None = None
        self._weights = torch.zeros(MAX_SIZE, MAX_SIZE)
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
        self.cells = [widgets.Text("0", continuous_update=False,
                                   layout=widgets.Layout(width="76px"))
                      for _ in range(MAX_SIZE * MAX_SIZE)]
        for cell in self.cells:
            cell.add_class("cnnedu-weight-box")
        self.grid = widgets.GridBox(self.cells, layout=widgets.Layout(
            grid_template_columns=f"repeat({MAX_SIZE}, 80px)"))
        self.weight_note = widgets.HTML()
        self.notes = {name: widgets.HTML() for name in ("stride", "padding", "dilation")}
        self.panels = PixelPanels(size=DISPLAY)
        self.formula, self.message, self.stats = widgets.HTML(), widgets.HTML(), widgets.HTML()
        for control in (self.image, self.stride, self.padding, self.dilation):
            control.observe(self._on_change, names="value")
        self.preset.observe(self._on_preset, names="value")
        self.size.observe(self._on_size, names="value")
        for index, cell in enumerate(self.cells):
            cell.observe(lambda change, i=index: self._on_cell(i, change), names="value")

        def with_note(control, name):
            return widgets.HBox([control, self.notes[name]])

        controls = widgets.VBox([self.image, self.preset, self.size,
                                 with_note(self.stride, "stride"),
                                 with_note(self.padding, "padding"),
                                 with_note(self.dilation, "dilation"),
                                 *self._make_selection_controls(style, layout)])
        weights = widgets.VBox([widgets.HTML("<b>kernel weights</b> <small>(shown to 3 "
                                             "significant digits; type to edit)</small>"),
                                self.grid, self.weight_note])
        self.widget = widgets.VBox([
            widgets.HBox([controls, weights]), self.formula, self.message,
            widgets.HTML("<small>Point at (or click) any output pixel to see window × kernel."
                         "</small>"),
            self.panels, self.stats])
        self.widget.add_class("cnnedu-kernel-explorer")
        if kernels:                      # only now: a new option list may fire a preset change
            self.add_kernels(kernels)
        self._load_preset("Sobel x")

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
        shown, updating = self.preset.value, self._updating
        self._updating = True            # a new option list resets the value: keep the shown kernel
        try:
            self.preset.options = [*self.presets, CUSTOM]
            self.preset.value = shown
        finally:
            self._updating = updating

    def kernel(self) -> torch.Tensor:
        """The kernel currently in the grid, (size, size), at full precision."""
        size = self.size.value
        return self._weights[:size, :size].clone()

    def _write_grid(self, kernel: torch.Tensor) -> None:
        size = kernel.shape[-1]
        self._weights.zero_()
        self._weights[:size, :size] = kernel
        for r in range(MAX_SIZE):
            for c in range(MAX_SIZE):
                cell = self.cells[r * MAX_SIZE + c]
                inside = r < size and c < size
                cell.value = weight_text(float(self._weights[r, c]))
                cell.layout.visibility = "visible" if inside else "hidden"

    def _load_preset(self, name: str) -> None:
        self._updating = True
        try:
            kernel = self.presets[name]
            size = 5 if kernel.shape[-1] > 3 else 3
            self.size.value = size
            self._write_grid(_resize_kernel(kernel, size))
            self.weight_note.value = ""
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
        kernel = self._weights[:old, :old].clone()
        self._updating = True
        try:
            self._write_grid(_resize_kernel(kernel, change["new"]))
        finally:
            self._updating = False
        self.update()

    def _on_cell(self, index: int, change: dict) -> None:
        """A typed weight: a finite number is taken; anything else is refused, with a note."""
        if self._updating:
            return
        r, c = divmod(index, MAX_SIZE)
        old = float(self._weights[r, c])
        text = str(change["new"]).strip()
        try:
            value = float(text)
        except ValueError:
            value = None
        self._updating = True
        try:
            if value is None or not math.isfinite(value):
                why = "is not a number" if value is None else "is not a finite number"
                self.weight_note.value = note_html(
                    f"weight ({r}, {c}): {text!r} {why}, so it keeps its value "
                    f"{weight_text(old)}")
                self.cells[index].value = weight_text(old)
                return
            self.weight_note.value = ""
            if text == weight_text(old):      # only the display was touched
                return
            self._weights[r, c] = value
            self.preset.value = CUSTOM
        finally:
            self._updating = False
        self.update()

    # --- drawing ----------------------------------------------------------------------------
    def _render(self) -> None:
        image = self.images[self.image.value]
        height, width = image.shape[-2:]
        k, s, p, d = self.size.value, self.stride.value, self.padding.value, self.dilation.value
        for name in self.notes:
            self.notes[name].value = note_html(limit_note(getattr(self, name)))
        self.formula.value = formula_html(height, width, k, s, p, d)
        kernel = self.kernel()
        if not torch.isfinite(kernel).all():
            raise ValueError("every kernel weight must be a finite number")
        out_h, out_w = conv_output_size((height, width), k, s, p, d)
        self.out_hw = (out_h, out_w)
        self.output = F.conv2d(image[None], kernel[None, None], stride=s, padding=p,
                               dilation=d)[0]
        out = self.output[0]
        if float(out.min()) >= 0:
            rgb = to_rgb(out, 0.0, max(float(out.max()), 1e-12), cmap="gray")
            scale = "grey: 0 black, max white"
        else:
            bound = max(float(out.abs().max()), 1e-12)
            rgb = to_rgb(out, -bound, bound, cmap="RdBu_r")
            scale = "blue −, white 0, red +"
        self.panels.panels = [
            self._input_panel(),
            panel("output", f"<b>feature map</b>: {out_h}×{out_w} ({scale})", rgb, hover=True)]
        self._select(*self._enable_selection(out_h, out_w))
        self.stats.value = self._stats_html(kernel, out)

    def _select(self, row: int, col: int) -> None:
        image = self.images[self.image.value]
        kernel = self.kernel()
        win = explain_conv_pixel(image, kernel, row, col, self.stride.value, self.padding.value,
                                 self.dilation.value)
        self._show_selection(row, col, win.rows, win.cols, conv_zoom_html(
            win, kernel, float(self.output[0, row, col]), self.dilation.value))

    def _clear_stale(self) -> None:
        """An illegal setting: no old feature map, window, zoom or statistics stays on screen."""
        self.output = None
        self._show_input_only("feature map")

    @staticmethod
    def _stats_html(kernel: torch.Tensor, out: torch.Tensor) -> str:
        total = float(kernel.sum())
        meaning = ("keeps the average brightness" if abs(total - 1) < 1e-3 else
                   "gives 0 on flat regions: it responds only to change" if abs(total) < 1e-3
                   else "scales the brightness")
        text = (f"kernel sum {fmt(total)} ({meaning}); output range "
                f"[{float(out.min()):.3f}, {float(out.max()):.3f}], mean |value| "
                f"{float(out.abs().mean()):.3f}")
        return f"<div class='cnnedu-stats'>{html.escape(text)}</div>"
