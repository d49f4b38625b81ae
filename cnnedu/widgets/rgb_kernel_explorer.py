"""The kernel explorer on a colour photo: one kernel per channel, depthwise or dense.

Three kernels, one per input channel (red, green, blue), chosen from the kernel explorer's
presets. Two modes, switched by one control:

* **depthwise** (``F.conv2d(x, w, groups=3)``, ``w`` of shape (3, 1, k, k)): output channel c is
  input channel c filtered by kernel c; no output sees another channel (lesson 08's depthwise
  step, MobileNet's first half);
* **dense** (``F.conv2d(x, w)``, ``w`` of shape (1, 3, k, k)): one output channel, the sum of the
  three channels' filtered maps (lesson 02's multi-channel convolution).

Pointing at an output pixel (or the window row/col sliders, or play) outlines the window on the
input channel(s) it reads and shows the arithmetic: in depthwise mode that channel's window ×
its kernel = products, summed; in dense mode one such line per channel and the sum of the three
partial sums. Stride, padding and dilation as in the grey explorer; illegal settings are refused
with a note and nothing of the old setting stays on screen.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import torch
import torch.nn.functional as F

from cnnedu.images import list_photos, load_photo
from cnnedu.shapes import conv_output_size
from cnnedu.widgets.base import WindowExplorer
from cnnedu.widgets.common import formula_html, limit_note, note_html
from cnnedu.widgets.kernel_explorer import PRESETS, _resize_kernel
from cnnedu.widgets.panels import PixelPanels, panel
from cnnedu.widgets.render import to_rgb
from cnnedu.widgets.zoom import conv_grids_html, conv_zoom_html, explain_conv_pixel, fmt, where_html

DISPLAY = 200
EXACT_PIXELS = 20_000   # maps up to ~141x141 are sent as PNG (exact), larger ones as JPEG (fast)
COLOURS = ("red", "green", "blue")
DEFAULT_KERNELS = ("Sobel x", "box blur", "Sobel y")
MODES = [("depthwise (groups=3)", "depthwise"), ("dense (sum over channels)", "dense")]


def rgb_photos(size: int = 256) -> dict[str, torch.Tensor]:
    """The course's photos in colour, ``size`` square, (3, size, size) in [0, 1]."""
    return {name: load_photo(name, size) for name in list_photos()}


def channel_rgb(plane: torch.Tensor, channel: int) -> np.ndarray:
    """One colour channel (H, W) in [0, 1] drawn in its own colour: red as black-to-red, etc."""
    rgb = np.zeros((*plane.shape, 3), dtype=np.uint8)
    rgb[..., channel] = (plane.clamp(0, 1).numpy() * 255).astype(np.uint8)
    return rgb


def map_rgb(out: torch.Tensor) -> tuple[np.ndarray, str]:
    """A feature map coloured as in the grey explorer, and the words for its scale."""
    if float(out.min()) >= 0:
        return to_rgb(out, 0.0, max(float(out.max()), 1e-12), "gray"), "grey: 0 black, max white"
    bound = max(float(out.abs().max()), 1e-12)
    return to_rgb(out, -bound, bound, "RdBu_r"), "blue −, white 0, red +"


class RGBKernelExplorer(WindowExplorer):
    """``RGBKernelExplorer()`` and display it; ``images`` maps names to (3, H, W) in [0, 1]."""

    def __init__(self, images: dict[str, torch.Tensor] | None = None, photo_size: int = 256,
                 mode: str = "depthwise"):
        self.images = images if images is not None else rgb_photos(photo_size)
        if not self.images:
            raise ValueError("RGBKernelExplorer needs at least one image")
        for name, image in self.images.items():
            if image.dim() != 3 or image.shape[0] != 3:
                raise ValueError(f"image {name!r} must have shape (3, H, W), got "
                                 f"{tuple(image.shape)}")
        self.output: torch.Tensor | None = None
        self._channel_panels: tuple | None = None
        style = {"description_width": "80px"}
        layout = widgets.Layout(width="300px")
        self.image = widgets.Dropdown(options=list(self.images), description="image",
                                      style=style, layout=layout)
        self.mode = widgets.ToggleButtons(options=MODES, value=mode, description="mode",
                                          style=style)
        self.kernels = [widgets.Dropdown(options=list(PRESETS), value=preset, style=style,
                                         description=f"{colour} kernel", layout=layout)
                        for colour, preset in zip(COLOURS, DEFAULT_KERNELS, strict=True)]
        self.channel = widgets.ToggleButtons(options=[(c, i) for i, c in enumerate(COLOURS)],
                                             description="channel", style=style)
        self.stride = widgets.IntSlider(1, 1, 8, description="stride", style=style, layout=layout)
        self.padding = widgets.IntSlider(1, 0, 8, description="padding", style=style,
                                         layout=layout)
        self.dilation = widgets.IntSlider(1, 1, 4, description="dilation", style=style,
                                          layout=layout)
        self.notes = {name: widgets.HTML() for name in ("stride", "padding", "dilation")}
        self.panels = PixelPanels(size=DISPLAY)
        self.formula, self.message, self.stats = widgets.HTML(), widgets.HTML(), widgets.HTML()
        for control in (self.image, self.mode, *self.kernels, self.stride, self.padding,
                        self.dilation):
            control.observe(self._on_change, names="value")
        self.channel.observe(self._on_channel, names="value")
        left = widgets.VBox([self.image, *self.kernels, self.mode, self.channel])
        right = widgets.VBox([*(widgets.HBox([getattr(self, n), self.notes[n]])
                                for n in ("stride", "padding", "dilation")),
                              *self._make_selection_controls(style, layout)])
        self.widget = widgets.VBox([
            widgets.HBox([left, right]), self.formula, self.message,
            widgets.HTML("<small>Point at (or click) an output pixel: its window is outlined on "
                         "the input channel(s) it reads, and its sum is written out below."
                         "</small>"), self.panels, self.stats])
        self.widget.add_class("cnnedu-rgb-kernel-explorer")
        self.update()

    def weight(self) -> torch.Tensor:
        """The convolution's weight: (3, 1, k, k) depthwise, (1, 3, k, k) dense. Kernels of
        different sizes are zero-padded (centred) to the largest."""
        chosen = [PRESETS[k.value] for k in self.kernels]
        size = max(k.shape[-1] for k in chosen)
        stacked = torch.stack([_resize_kernel(k, size) for k in chosen])
        return stacked[:, None] if self.mode.value == "depthwise" else stacked[None]

    def _channels(self) -> list[dict]:
        """The three input-channel panels, encoded once per image."""
        image = self.images[self.image.value]
        key = (self.image.value, id(image))
        if self._channel_panels is None or self._channel_panels[0] != key:
            self._channel_panels = (key, [panel(f"in{c}", f"input channel {c} ({colour})",
                                                channel_rgb(image[c], c),
                                                lossless_limit=EXACT_PIXELS)
                                          for c, colour in enumerate(COLOURS)])
        return self._channel_panels[1]

    def _render(self) -> None:
        image = self.images[self.image.value]
        height, width = image.shape[-2:]
        s, p, d = self.stride.value, self.padding.value, self.dilation.value
        depthwise = self.mode.value == "depthwise"
        self.channel.disabled = not depthwise
        for name in self.notes:
            self.notes[name].value = note_html(limit_note(getattr(self, name)))
        weight = self.weight()
        k = weight.shape[-1]
        self.formula.value = formula_html(height, width, k, s, p, d)
        out_h, out_w = conv_output_size((height, width), k, s, p, d)
        self.out_hw = (out_h, out_w)
        self.output = F.conv2d(image[None], weight, stride=s, padding=p, dilation=d,
                               groups=3 if depthwise else 1)[0]
        names = [k.value for k in self.kernels]
        outputs = []
        for c in range(len(self.output)):
            rgb, scale = map_rgb(self.output[c])
            label = (f"<b>output channel {c}</b> = {COLOURS[c]} ∗ {html.escape(names[c])}"
                     if depthwise else "<b>output</b> = Σ over the 3 channels")
            outputs.append(panel(f"out{c}" if depthwise else "out",
                                 f"{label}: {out_h}×{out_w} ({scale})", rgb, hover=True,
                                 channel=c if depthwise else None,
                                 lossless_limit=EXACT_PIXELS))
        self.panels.panels = [self._input_panel(" (RGB)"), *self._channels(), *outputs]
        self._select(*self._enable_selection(out_h, out_w))
        words = (f"depthwise: weight {tuple(weight.shape)}, groups=3, {weight.numel()} weights; "
                 "each output channel reads one input channel" if depthwise else
                 f"dense: weight {tuple(weight.shape)}, groups=1, {weight.numel()} weights; "
                 "the one output channel reads all three input channels")
        self.stats.value = f"<div class='cnnedu-stats'>{html.escape(words)}</div>"

    def _on_point(self, change: dict) -> None:
        """A pointed pixel: [row, col] (dense) or [row, col, channel] (a depthwise output)."""
        new = change["new"]
        if self._updating or len(new) not in (2, 3):
            return
        if len(new) == 3 and self.channel.value != new[2]:
            self._updating = True
            try:
                self.channel.value = new[2]
            finally:
                self._updating = False
        self.select(new[0], new[1])

    def _on_channel(self, change: dict) -> None:
        if not self._updating and self.out_hw is not None:
            self.select(self.probe_row.value, self.probe_col.value)

    def _select(self, row: int, col: int) -> None:
        image = self.images[self.image.value]
        weight = self.weight()
        s, p, d = self.stride.value, self.padding.value, self.dilation.value
        names = [k.value for k in self.kernels]
        if self.mode.value == "depthwise":
            c = self.channel.value
            win = explain_conv_pixel(image[c], weight[c, 0], row, col, s, p, d)
            zoom = conv_zoom_html(win, weight[c, 0], float(self.output[c, row, col]), d,
                                  f"window of input channel {c} ({COLOURS[c]})",
                                  f"kernel {c} ({html.escape(names[c])})",
                                  f"output channel {c}")
            selected, on = [row, col, c], ["input", f"in{c}"]
        else:
            wins = [explain_conv_pixel(image[c], weight[0, c], row, col, s, p, d)
                    for c in range(3)]
            zoom = self._dense_zoom(wins, weight[0], float(self.output[0, row, col]), names)
            win, selected, on = wins[0], [row, col], ["input", "in0", "in1", "in2"]
        with self.panels.hold_sync():
            self.panels.selected = selected
            self.panels.window = {"rows": list(win.rows), "cols": list(win.cols), "panels": on}
            self.panels.zoom = f"<div class='cnnedu-rgb-zoom' data-mode='{self.mode.value}'>" \
                f"{zoom}</div>"
        self.probe_row.value, self.probe_col.value = row, col
        self.play.value = row * self.out_hw[1] + col

    def _dense_zoom(self, wins: list, kernels: torch.Tensor, output_value: float,
                    names: list[str]) -> str:
        """One line per channel (window × kernel slice = products, their sum), then the total."""
        d = self.dilation.value
        lines = []
        for c, win in enumerate(wins):
            grids = conv_grids_html(win, kernels[c], d, f"window of input channel {c} "
                                    f"({COLOURS[c]})", f"slice {c} ({html.escape(names[c])})")
            lines.append(f"<div class='cnnedu-zoom-channel' data-channel='{c}' "
                         f"data-sum='{win.value!r}' style='display:flex;align-items:center;"
                         f"flex-wrap:wrap'>{grids}<span>&nbsp;sum {fmt(win.value)}</span></div>")
        terms = " + ".join(fmt(w.value) for w in wins)
        total = sum(w.value for w in wins)
        result = (f"{terms} = {fmt(total)} = output ({wins[0].row}, {wins[0].col}) = "
                  f"<span class='cnnedu-zoom-value' data-value='{output_value!r}'>"
                  f"{fmt(output_value)}</span>")
        return (where_html(wins[0].row, wins[0].col, wins[0].rows, wins[0].cols)
                + "".join(lines) + f"<div class='cnnedu-zoom-result'>{result}</div>")

    def _clear_stale(self) -> None:
        """An illegal setting: the photo alone, no output, window, zoom or statistics."""
        self.output = None
        self._show_input_only("output")
