"""An interactive pooling explorer: point at any output pixel and see its window and arithmetic.

It computes with :func:`cnnedu.pooling.pool2d` and :func:`cnnedu.pooling.explain_output_pixel`
(the lesson's from-scratch code). Input and outputs are shown at one on-screen size by the
browser (:mod:`cnnedu.widgets.panels`), each labelled with its true size; *compare* adds avg
beside max and *max − avg* a difference panel. Moving the pointer over an output pixel (or the
window row/col sliders, or the play button) selects it: its window is drawn on the input and the
zoom panel shows the window's numbers, padding marked with the value used, and how they become
the output value. Rules are enforced in the open: a clamped value gets a note next to its
control saying which rule; an illegal setting is explained in words and everything that belonged
to the old setting is cleared. No callback lets an exception escape.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import torch

from cnnedu import sharpness
from cnnedu.pooling import explain_output_pixel, output_size, pool2d
from cnnedu.widgets.base import WindowExplorer
from cnnedu.widgets.common import default_images, formula_html, limit_note, note_html
from cnnedu.widgets.panels import PixelPanels, panel
from cnnedu.widgets.render import to_rgb
from cnnedu.widgets.zoom import fmt, pooling_zoom_html

DISPLAY = 360        # on-screen pixels per panel (larger side), the same for every panel
DISPLAY_MANY = 240   # ... when four panels share the row (they fit one notebook width)


def _control(control: widgets.Widget, note: widgets.HTML) -> widgets.HBox:
    return widgets.HBox([control, note], layout=widgets.Layout(align_items="center"))


class PoolingExplorer(WindowExplorer):
    """Build with ``PoolingExplorer()`` and display it (or ``explorer.widget``).

    ``images`` maps a name to a (1, H, W) image; by default the course's photos at
    ``photo_size`` (512 for the full resolution), four Fashion-MNIST samples and the seed post's
    4×4 tensor.
    """

    def __init__(self, images: dict[str, torch.Tensor] | None = None, photo_size: int = 512,
                 fashion_samples: int = 4):
        if images is None:
            images = default_images(photo_size, fashion_samples)
        if not images:
            raise ValueError("PoolingExplorer needs at least one image")
        self.images = images
        self.outputs: dict[str, torch.Tensor] = {}
        self._padding_asked = 0
        self._input_stats: dict[str, str] = {}
        style = {"description_width": "80px"}
        layout = widgets.Layout(width="300px")
        self.image = widgets.Dropdown(options=list(images), description="image", style=style,
                                      layout=widgets.Layout(width="400px"))
        self.kernel = widgets.IntSlider(2, 1, 9, description="kernel", style=style, layout=layout)
        self.stride = widgets.IntSlider(2, 1, 9, description="stride", style=style, layout=layout)
        self.padding = widgets.IntSlider(0, 0, 4, description="padding", style=style,
                                         layout=layout)
        self.dilation = widgets.IntSlider(1, 1, 4, description="dilation", style=style,
                                          layout=layout)
        self.mode = widgets.ToggleButtons(options=["max", "avg"], description="mode",
                                          style=style)
        self.ceil_mode = widgets.Checkbox(False, description="ceil_mode", indent=False)
        self.count_include_pad = widgets.Checkbox(True, description="count_include_pad (avg)",
                                                  indent=False)
        self.compare = widgets.Checkbox(False, description="compare max vs avg", indent=False)
        self.difference = widgets.Checkbox(False, description="max − avg panel", indent=False)
        self.notes = {name: widgets.HTML() for name in
                      ("kernel", "stride", "padding", "dilation", "probe")}
        self.panels = PixelPanels(size=DISPLAY)
        self.formula, self.message, self.stats = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.controls = [self.image, self.kernel, self.stride, self.padding, self.dilation,
                         self.mode, self.ceil_mode, self.count_include_pad, self.compare,
                         self.difference]
        for control in self.controls:
            control.observe(self._on_change, names="value")
        left = widgets.VBox([self.image, _control(self.kernel, self.notes["kernel"]),
                             _control(self.stride, self.notes["stride"]),
                             _control(self.padding, self.notes["padding"]),
                             _control(self.dilation, self.notes["dilation"])])
        right = widgets.VBox([self.mode, widgets.HBox([self.ceil_mode, self.count_include_pad]),
                              widgets.HBox([self.compare, self.difference]),
                              *self._make_selection_controls(style, layout),
                              self.notes["probe"]])
        self.widget = widgets.VBox([widgets.HBox([left, right]), self.formula, self.message,
                                    widgets.HTML("<small>Point at (or click) any output pixel "
                                                 "to see its window and arithmetic.</small>"),
                                    self.panels, self.stats])
        self.widget.add_class("cnnedu-pooling-explorer")
        self.update()

    # --- reacting to controls --------------------------------------------------------------
    def _on_change(self, change: dict) -> None:
        if self._updating:
            return
        if change["owner"] is self.padding:
            self._padding_asked = change["new"]
        self.update()

    def settings(self) -> dict:
        """The current pooling settings, as ``pool2d`` keyword arguments."""
        return dict(kernel_size=self.kernel.value, stride=self.stride.value,
                    padding=self.padding.value, dilation=self.dilation.value,
                    ceil_mode=self.ceil_mode.value)

    def modes(self) -> list[str]:
        """The pooling modes on screen: one, or max and avg when comparing."""
        both = self.compare.value or self.difference.value
        return ["max", "avg"] if both else [self.mode.value]

    def _apply_rules(self) -> None:
        """Clamp what PyTorch's rules forbid, and say so next to the control."""
        most = self.kernel.value // 2
        self.padding.value = min(self._padding_asked, most)
        padding_note = (f"padding {self._padding_asked} → {most}: pooling padding may be at "
                        f"most kernel // 2 = {self.kernel.value} // 2 = {most}"
                        if self._padding_asked > most else limit_note(self.padding))
        avg_involved = "avg" in self.modes()
        self.dilation.disabled = avg_involved
        dilation_note = limit_note(self.dilation)
        if avg_involved:
            if self.dilation.value != 1:
                dilation_note = (f"dilation {self.dilation.value} → 1: average pooling has no "
                                 "dilation (F.avg_pool2d has no such argument)")
            else:
                dilation_note = "fixed at 1: average pooling has no dilation"
            self.dilation.value = 1
        self.count_include_pad.disabled = "avg" not in self.modes()
        for name, text in (("kernel", limit_note(self.kernel)),
                           ("stride", limit_note(self.stride)),
                           ("padding", padding_note), ("dilation", dilation_note)):
            self.notes[name].value = note_html(text)

    # --- drawing ----------------------------------------------------------------------------
    def _render(self) -> None:
        image = self.images[self.image.value]
        height, width = image.shape[-2:]
        self._apply_rules()
        st = self.settings()
        self.formula.value = formula_html(height, width, st["kernel_size"], st["stride"],
                                          st["padding"], st["dilation"], st["ceil_mode"])
        out_h, out_w = output_size((height, width), **st)   # raises a clear error if illegal
        self.out_hw = (out_h, out_w)
        modes = self.modes()
        self.outputs = {mode: pool2d(image, mode=mode, count_include_pad=(
            self.count_include_pad.value), **st) for mode in modes}
        vmin, vmax = float(image.min()), float(image.max())
        shown = [self._input_panel()]
        for mode in modes:
            shown.append(panel(mode, f"<b>{mode} pooling</b>: {out_h}×{out_w}",
                               to_rgb(self.outputs[mode], vmin, vmax), hover=True))
        if self.difference.value:
            diff = self.outputs["max"] - self.outputs["avg"]
            bound = max(float(diff.abs().max()), 1e-12)
            shown.append(panel("difference", f"<b>max − avg</b>: {out_h}×{out_w} (white 0, "
                               f"red up to {fmt(bound)})", to_rgb(diff, -bound, bound, "RdBu_r"),
                               hover=True))
        asked = (self.probe_row.value, self.probe_col.value)
        row, col = self._enable_selection(out_h, out_w)
        clamped = (row, col) != asked
        self.panels.size = DISPLAY_MANY if len(shown) > 3 else DISPLAY
        self.panels.panels = shown
        self.notes["probe"].value = note_html(
            f"window moved to ({row}, {col}): the output is now {out_h}×{out_w}"
            if clamped else "")
        self._select(row, col)
        self.stats.value = self._stats_html(image)

    def _select(self, row: int, col: int) -> None:
        image = self.images[self.image.value]
        st = self.settings()
        parts = []
        for mode in self.outputs:
            info = explain_output_pixel(image, row, col, mode=mode,
                                        count_include_pad=self.count_include_pad.value, **st)
            value = float(self.outputs[mode][0, row, col])
            parts.append(f"<div class='cnnedu-zoom-mode' data-mode='{mode}'><b>{mode} "
                         "pooling</b>" + pooling_zoom_html(
                             info, mode, value, st["dilation"], st["padding"],
                             tuple(image.shape[-2:]), self.count_include_pad.value) + "</div>")
        if self.difference.value:
            diff = float(self.outputs["max"][0, row, col] - self.outputs["avg"][0, row, col])
            parts.append(f"<div class='cnnedu-zoom-diff'>max − avg = {fmt(diff)}</div>")
        self._show_selection(row, col, info.rows, info.cols,
                             "<div style='display:flex;gap:24px;flex-wrap:wrap'>"
                             + "".join(parts) + "</div>")

    def _clear_stale(self) -> None:
        """An illegal setting: nothing of the old output, window, zoom or statistics remains."""
        self.outputs = {}
        self._show_input_only("output")
        if "illegal" not in self.formula.value:
            self.formula.value = ""

    @staticmethod
    def _stats_row(name: str, image: torch.Tensor) -> str:
        plane = image[0].float()
        return (f"<tr><td>{html.escape(name)}</td>"
                f"<td>{sharpness.edge_strength(plane):.4f}</td>"
                f"<td>{float((plane < 0.25).float().mean()):.1%}</td>"
                f"<td>{float(plane.mean()):.3f}</td></tr>")

    def _stats_html(self, image: torch.Tensor) -> str:
        name = self.image.value
        if name not in self._input_stats:          # the input's row never changes: compute once
            self._input_stats[name] = self._stats_row("input", image)
        rows = ["<table class='cnnedu-stats'><tr><th></th><th>edge strength</th>"
                "<th>dark pixels (&lt; 0.25)</th><th>mean brightness</th></tr>",
                self._input_stats[name]]
        rows += [self._stats_row(f"{m} pool", out) for m, out in self.outputs.items()]
        rows.append("</table>")
        return "".join(rows)
