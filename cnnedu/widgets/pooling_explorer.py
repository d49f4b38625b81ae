"""An interactive pooling explorer: real photos or Fashion-MNIST, every pooling setting, live.

It computes with :func:`cnnedu.pooling.pool2d` (the lesson's from-scratch code), draws the input
with the window grid and one highlighted window, the output (or max and avg side by side), the
output-size formula with the current numbers, and the sharpness numbers of
:mod:`cnnedu.sharpness`. Illegal settings are blocked: the padding slider's range follows the
kernel, dilation is off in average mode, and anything still illegal (an output smaller than one
pixel) is explained in words in place of the output. No callback lets an exception escape.
"""

from __future__ import annotations

import html
import time

import ipywidgets as widgets
import numpy as np
import torch

from cnnedu import sharpness
from cnnedu.pooling import explain_output_pixel, output_size, pool2d
from cnnedu.widgets.common import default_images, formula_html, problem_html
from cnnedu.widgets.render import draw_box, fit_factor, png_bytes, show, to_rgb, upscale

DISPLAY = 320  # pixels on screen per panel (small images are enlarged by whole factors)
GRID_LIMIT = 40  # draw every window's outline only when there are this few per side
HIGHLIGHT = (255, 64, 32)
GRID = (64, 160, 255)


class PoolingExplorer:
    """Build with ``PoolingExplorer()`` and show ``explorer.widget`` (or just the object).

    ``images`` maps a name to a (1, H, W) image in [0, 1]; by default the course's photos at
    ``photo_size`` (512 for the full resolution) plus four Fashion-MNIST samples.
    """

    def __init__(self, images: dict[str, torch.Tensor] | None = None, photo_size: int = 512,
                 fashion_samples: int = 4):
        if images is None:
            images = default_images(photo_size, fashion_samples)
        if not images:
            raise ValueError("PoolingExplorer needs at least one image")
        self.images = images
        self.last_update_ms = float("nan")
        self.error: str | None = None
        self.outputs: dict[str, torch.Tensor] = {}
        style = {"description_width": "80px"}
        layout = widgets.Layout(width="300px")
        self.image = widgets.Dropdown(options=list(images), description="image", style=style,
                                      layout=widgets.Layout(width="400px"))
        self.kernel = widgets.IntSlider(2, 1, 9, description="kernel", style=style, layout=layout)
        self.stride = widgets.IntSlider(2, 1, 9, description="stride", style=style, layout=layout)
        self.padding = widgets.IntSlider(0, 0, 1, description="padding", style=style,
                                         layout=layout)
        self.dilation = widgets.IntSlider(1, 1, 4, description="dilation", style=style,
                                          layout=layout)
        self.mode = widgets.ToggleButtons(options=["max", "avg"], description="mode",
                                          style=style)
        self.ceil_mode = widgets.Checkbox(False, description="ceil_mode", indent=False)
        self.compare = widgets.Checkbox(False, description="compare max vs avg", indent=False)
        self.probe_row = widgets.IntSlider(0, 0, 0, description="window row", style=style,
                                           layout=layout)
        self.probe_col = widgets.IntSlider(0, 0, 0, description="window col", style=style,
                                           layout=layout)
        self.input_view = widgets.Image(format="png")
        self.output_view = widgets.Image(format="png")
        self.second_view = widgets.Image(format="png", layout=widgets.Layout(display="none"))
        self.input_label = widgets.HTML()
        self.output_label = widgets.HTML()
        self.second_label = widgets.HTML()
        self.formula = widgets.HTML()
        self.message = widgets.HTML()
        self.stats = widgets.HTML()
        self.window_info = widgets.HTML()
        self.controls = [self.image, self.kernel, self.stride, self.padding, self.dilation,
                         self.mode, self.ceil_mode, self.compare, self.probe_row, self.probe_col]
        for control in self.controls:
            control.observe(self._on_change, names="value")
        panels = widgets.HBox([
            widgets.VBox([self.input_label, self.input_view]),
            widgets.VBox([self.output_label, self.output_view]),
            widgets.VBox([self.second_label, self.second_view]),
        ])
        left = widgets.VBox([self.image, self.kernel, self.stride, self.padding, self.dilation])
        right = widgets.VBox([self.mode, widgets.HBox([self.ceil_mode, self.compare]),
                              self.probe_row, self.probe_col])
        self.widget = widgets.VBox([widgets.HBox([left, right]), self.formula, self.message,
                                    panels, self.window_info, self.stats])
        self.widget.add_class("cnnedu-pooling-explorer")
        self._updating = False
        self.update()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _on_change(self, change: dict) -> None:
        if not self._updating:
            self.update()

    def _sync_ranges(self) -> None:
        """Make the sliders' ranges follow the rules, so illegal values cannot be chosen."""
        self.padding.max = self.kernel.value // 2
        avg_involved = self.mode.value == "avg" or self.compare.value
        self.dilation.disabled = avg_involved
        if avg_involved:
            self.dilation.value = 1

    def update(self) -> None:
        """Recompute and redraw everything; any failure becomes a message, never a traceback."""
        start = time.perf_counter()
        self._updating = True
        try:
            self._sync_ranges()
            self._render()
            self.error = None
        except Exception as err:  # noqa: BLE001 - a widget must never show a traceback
            self._show_problem(str(err))
        finally:
            self._updating = False
        self.last_update_ms = (time.perf_counter() - start) * 1000

    def settings(self) -> dict:
        """The current pooling settings, as ``pool2d`` keyword arguments."""
        return dict(kernel_size=self.kernel.value, stride=self.stride.value,
                    padding=self.padding.value, dilation=self.dilation.value,
                    ceil_mode=self.ceil_mode.value)

    def _show_problem(self, text: str) -> None:
        self.error = text
        self.message.value = problem_html(text)
        self.outputs = {}
        blank = np.full((8, 8, 3), 230, dtype=np.uint8)
        for view in (self.output_view, self.second_view):
            view.format = "png"
            view.value = png_bytes(blank)
        self.output_label.value = "<b>output</b>: none"

    def _render(self) -> None:
        image = self.images[self.image.value]
        height, width = image.shape[-2:]
        st = self.settings()
        self.formula.value = formula_html(height, width, st["kernel_size"], st["stride"],
                                          st["padding"], st["dilation"], st["ceil_mode"])
        out_h, out_w = output_size((height, width), **st)   # raises a clear error if illegal
        self.message.value = ""
        self.probe_row.max, self.probe_col.max = out_h - 1, out_w - 1
        modes = ["max", "avg"] if self.compare.value else [self.mode.value]
        self.outputs = {mode: pool2d(image, mode=mode, **st) for mode in modes}
        vmin, vmax = float(image.min()), float(image.max())
        mode = modes[0]
        info = explain_output_pixel(image, self.probe_row.value, self.probe_col.value,
                                    mode=mode, **st)
        self._draw_input(image, st, (out_h, out_w), info)
        factor = fit_factor(out_h, out_w, DISPLAY)
        views = [(self.output_view, self.output_label), (self.second_view, self.second_label)]
        for (view, label), name in zip(views, modes, strict=False):
            rgb = upscale(to_rgb(self.outputs[name], vmin, vmax), factor)
            r, c = self.probe_row.value, self.probe_col.value
            draw_box(rgb, r * factor, c * factor, (r + 1) * factor - 1, (c + 1) * factor - 1,
                     HIGHLIGHT, max(1, factor // 8))
            show(view, rgb)
            label.value = f"<b>{name} pooling</b>: {out_h}×{out_w}"
        self.second_view.layout.display = None if len(modes) == 2 else "none"
        self.second_label.layout.display = None if len(modes) == 2 else "none"
        self.window_info.value = self._window_html(info, mode)
        self.stats.value = self._stats_html(image)

    def _draw_input(self, image: torch.Tensor, st: dict, out_hw: tuple[int, int],
                    info) -> None:
        height, width = image.shape[-2:]
        factor = fit_factor(height, width, DISPLAY)
        rgb = upscale(to_rgb(image, 0.0, 1.0), factor)
        if max(out_hw) <= GRID_LIMIT:  # outline every window's start cell, light blue
            for r in range(out_hw[0]):
                for c in range(out_hw[1]):
                    top = r * st["stride"] - st["padding"]
                    left = c * st["stride"] - st["padding"]
                    draw_box(rgb, top * factor, left * factor, (top + 1) * factor - 1,
                             (left + 1) * factor - 1, GRID, 1)
        top, left, bottom, right = info.box
        draw_box(rgb, top * factor, left * factor, (bottom + 1) * factor - 1,
                 (right + 1) * factor - 1, HIGHLIGHT, max(2, factor // 6))
        show(self.input_view, rgb)
        self.input_label.value = f"<b>input</b>: {height}×{width} (highlight: one window)"

    @staticmethod
    def _window_html(info, mode: str) -> str:
        top, left, bottom, right = info.box
        text = (f"Highlighted output pixel ({info.row}, {info.col}) comes from input rows "
                f"{top}..{bottom}, columns {left}..{right}")
        if mode == "max" and info.argmax is not None:
            text += f"; the maximum {info.value:.3f} sits at {info.argmax}."
        else:
            text += f"; their average is {info.value:.3f}."
        return f"<div class='cnnedu-window'>{html.escape(text)}</div>"

    def _stats_html(self, image: torch.Tensor) -> str:
        rows = ["<table class='cnnedu-stats'><tr><th></th><th>edge strength</th>"
                "<th>dark pixels (&lt; 0.25)</th><th>mean brightness</th></tr>"]
        entries = [("input", image)] + [(f"{m} pool", out) for m, out in self.outputs.items()]
        for name, img in entries:
            plane = img[0]
            rows.append(f"<tr><td>{name}</td><td>{sharpness.edge_strength(plane):.4f}</td>"
                        f"<td>{float((plane < 0.25).float().mean()):.1%}</td>"
                        f"<td>{float(plane.mean()):.3f}</td></tr>")
        rows.append("</table>")
        return "".join(rows)
