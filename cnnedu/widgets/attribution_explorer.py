"""An attribution explorer: pick an image, a target class and a method; point at the map.

It computes with :mod:`cnnedu.attribution` (the lesson's from-scratch code, equal to Captum's).
The image and its heat map are shown side by side at one on-screen size
(:mod:`cnnedu.widgets.panels`). Pointing at (or clicking) a pixel of the map shows its
attribution value; for occlusion, the patch at that pixel is drawn on the image. Settings that
make no sense (a patch larger than the image, a stride that leaves pixels never occluded, a
Grad-CAM layer without spatial maps) are refused with a note, and the old map is removed.

Speed (the explorers' goal: a settings change drawn within 30 ms kernel-side): hovering only reads
the stored map. Every map is kept (the last ``CACHE_SIZE`` settings), so returning to a setting
costs no forward pass; occlusion runs its occluded forwards once per image, patch and stride and
keeps every class's map (:func:`cnnedu.attribution.occlusion_all_targets`), so changing the target
is free; saliency and gradient × input share one gradient per image and target (one image's
backward pass costs a few ms; a batched pass for all ten classes would cost 4-5 times as much,
so a target change computes its own). SmoothGrad uses a noise seed fixed per image, so its map
does not flicker when a setting is revisited. A new occlusion setting needs 169-784 occluded
passes (140 ms and more on 2 cores), so it is drawn first as a labelled preview from
``PREVIEW_PASSES`` of them (:mod:`cnnedu.occlusion_preview`), then exactly, in one update:
``first_draw_ms`` times the first drawing, ``last_update_ms`` the exact map.
"""

from __future__ import annotations

import html
import time
from collections import OrderedDict
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from cnnedu import attribution
from cnnedu.occlusion_preview import occlusion_preview
from cnnedu.widgets.base import WindowExplorer
from cnnedu.widgets.panels import PixelPanels, panel
from cnnedu.widgets.render import to_rgb
from cnnedu.widgets.zoom import fmt

DISPLAY = 336
METHODS = ["saliency", "smoothgrad", "gradient×input", "occlusion", "grad-cam"]
SIGNED = {"gradient×input", "occlusion"}   # maps with both signs: drawn blue (-) to red (+)
CACHE_SIZE = 64                             # computed maps kept, by setting
PREVIEW_PASSES = 16                         # occluded forwards of an occlusion preview


def overlay(image: torch.Tensor, heat: torch.Tensor, signed: bool) -> np.ndarray:
    """(H, W, 3) uint8: the grey image under a colour-mapped ``heat`` (same H, W)."""
    grey = to_rgb(image[0], float(image.min()), float(image.max())).astype(np.float32)
    if signed:
        bound = max(float(heat.abs().max()), 1e-12)
        colour = to_rgb(heat, -bound, bound, "RdBu_r")
    else:
        colour = to_rgb(heat, 0.0, max(float(heat.max()), 1e-12), "magma")
    return (0.3 * grey + 0.7 * colour.astype(np.float32)).astype(np.uint8)


class AttributionExplorer(WindowExplorer):
    """``AttributionExplorer(model, images, classes)``: ``images`` maps a name to a normalised
    (1, H, W) image; ``layers`` maps a name to a module of ``model`` for Grad-CAM (default:
    its direct children)."""

    def __init__(self, model: nn.Module, images: dict[str, torch.Tensor], classes: list[str],
                 layers: dict[str, nn.Module] | None = None):
        if not images:
            raise ValueError("AttributionExplorer needs at least one image")
        self.model = model.eval()
        self.images, self.classes = images, list(classes)
        self.layer_modules = layers or dict(model.named_children())
        self.heat: torch.Tensor | None = None
        self._cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self.compute_ms = 0.0            # time the last update spent computing (0: all kept)
        style = {"description_width": "80px"}
        layout = widgets.Layout(width="300px")
        self.image = widgets.Dropdown(options=list(images), description="image", style=style,
                                      layout=widgets.Layout(width="460px"))
        self.target = widgets.Dropdown(options=[("predicted class", -1)]
                                       + [(name, k) for k, name in enumerate(self.classes)],
                                       description="target", style=style, layout=layout)
        self.method = widgets.Dropdown(options=METHODS, description="method", style=style,
                                       layout=layout)
        self.patch = widgets.IntSlider(4, 1, 40, description="patch", style=style,
                                       layout=layout)
        self.stride = widgets.IntSlider(2, 1, 40, description="stride", style=style,
                                        layout=layout)
        names = list(self.layer_modules)
        self.layer = widgets.Dropdown(options=names, value=names[-3] if len(names) > 2 else
                                      names[0], description="layer", style=style, layout=layout)
        self.panels = PixelPanels(size=DISPLAY)
        self.message, self.stats = widgets.HTML(), widgets.HTML()
        self.controls = [self.image, self.target, self.method, self.patch, self.stride,
                         self.layer]
        for control in self.controls:
            control.observe(self._on_change, names="value")
        left = widgets.VBox([self.image, self.target, self.method])
        right = widgets.VBox([self.patch, self.stride, self.layer,
                              *self._make_selection_controls(style, layout)])
        self.widget = widgets.VBox([widgets.HBox([left, right]), self.message,
                                    widgets.HTML("<small>Point at (or click) a pixel of the map "
                                                 "to read its attribution.</small>"),
                                    self.panels, self.stats])
        self.widget.add_class("cnnedu-attribution-explorer")
        self.update()

    def _x(self) -> torch.Tensor:
        return self.images[self.image.value][None]

    def _render(self) -> None:
        start = time.perf_counter()
        method = self.method.value
        self.patch.disabled = self.stride.disabled = method != "occlusion"
        self.layer.disabled = method != "grad-cam"
        x = self._x()
        self.compute_ms, self.first_draw_ms = 0.0, None
        probs = self._cached(("probs",), lambda: self._probs(x))
        predicted = int(probs.argmax())
        target = predicted if self.target.value < 0 else self.target.value
        patch, stride = self.patch.value, self.stride.value
        if method == "occlusion" and not self._kept(("occlusion", patch, stride)):
            rows, cols = attribution.one_image_grid(x, patch, stride)
            if len(rows) * len(cols) > PREVIEW_PASSES:   # a grid that fits is computed once
                maps, ran, needed = occlusion_preview(self.model, x, patch, stride,
                                                      PREVIEW_PASSES)
                cost = (f"preview from {ran} of {needed} occluded passes (each patch given its "
                        f"nearest computed neighbour's drop): the exact map follows")
                self._draw(method, x, maps.sum(1)[target], probs, predicted, target, cost)
                self.first_draw_ms = (time.perf_counter() - start) * 1000
        heat = self._map(method, x, target)
        self._draw(method, x, heat, probs, predicted, target,
                   f"{method} map computed in {self.compute_ms:.0f} ms" if self.compute_ms
                   else f"{method} map kept from an earlier visit: no new pass")
        if self.first_draw_ms is None:
            self.first_draw_ms = (time.perf_counter() - start) * 1000

    def _draw(self, method: str, x: torch.Tensor, heat: torch.Tensor, probs: torch.Tensor,
              predicted: int, target: int, cost: str) -> None:
        """Show ``heat`` over the image with its label, the probabilities and ``cost``."""
        self.heat = heat
        height, width = heat.shape
        self.out_hw = (height, width)
        setting = (f"patch {self.patch.value}, stride {self.stride.value}"
                   if method == "occlusion" else f"layer {self.layer.value}"
                   if method == "grad-cam" else "")
        label = (f"<b>{html.escape(method)}</b> for <i>{html.escape(self.classes[target])}</i>"
                 + (f" ({html.escape(setting)})" if setting else ""))
        row, col = self._enable_selection(height, width)
        self.panels.panels = [self._input_panel(),
                              panel("map", label, overlay(x[0], heat, method in SIGNED),
                                    hover=True)]
        self._select(row, col)
        self.stats.value = (f"<div class='cnnedu-attr-probs'>predicted <b>"
                            f"{html.escape(self.classes[predicted])}</b> "
                            f"({probs[predicted]:.2f}); target "
                            f"{html.escape(self.classes[target])} ({probs[target]:.2f})</div>"
                            f"<div class='cnnedu-attr-cost'><small>{html.escape(cost)}"
                            "</small></div>")

    def _kept(self, key: tuple) -> bool:
        """Whether the map of ``key`` for this image is in the cache."""
        return (self.image.value, id(self.images[self.image.value]), *key) in self._cache

    def _cached(self, key: tuple, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """``compute()`` for this image and ``key``, from the cache when already computed."""
        key = (self.image.value, id(self.images[self.image.value]), *key)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        start = time.perf_counter()
        value = compute()
        self.compute_ms += (time.perf_counter() - start) * 1000
        self._cache[key] = value
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return value

    @torch.no_grad()
    def _probs(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).softmax(1)[0]

    def _map(self, method: str, x: torch.Tensor, target: int) -> torch.Tensor:
        """The (H, W) map of ``method`` for ``target`` (summed over the input's channels)."""
        if method == "occlusion":
            patch, stride = self.patch.value, self.stride.value
            maps = self._cached(("occlusion", patch, stride), lambda: attribution.
                                occlusion_all_targets(self.model, x, patch, stride).sum(1))
            return maps[target]
        if method == "grad-cam":
            layer = self.layer.value
            return self._cached(("grad-cam", layer, target), lambda: attribution.grad_cam(
                self.model, self.layer_modules[layer], x, target)[0].sum(0))
        if method == "smoothgrad":
            seed = sum(map(ord, self.image.value))        # fixed per image: no flicker
            return self._cached(("smoothgrad", target), lambda: attribution.smoothgrad(
                self.model, x, target, generator=torch.Generator().manual_seed(seed))[0].sum(0))
        grad = self._cached(("gradient", target),
                            lambda: attribution.input_gradient(self.model, x, target))
        return (grad.abs() if method == "saliency" else grad * x)[0].sum(0)

    def patch_at(self, row: int, col: int) -> tuple[range, range, int]:
        """The occlusion patch whose top-left is the last start at or before (row, col), its
        rows and columns cut to the image, and how many patches cover that pixel."""
        height, width = self.out_hw
        p = self.patch.value
        starts_r = attribution.window_starts(height, p, self.stride.value)
        starts_c = attribution.window_starts(width, p, self.stride.value)
        top = max(s for s in starts_r if s <= row)
        left = max(s for s in starts_c if s <= col)
        covering = (sum(s <= row < s + p for s in starts_r)
                    * sum(s <= col < s + p for s in starts_c))
        return range(top, min(top + p, height)), range(left, min(left + p, width)), covering

    def _select(self, row: int, col: int) -> None:
        value = float(self.heat[row, col])
        zoom = (f"<div class='cnnedu-attr-zoom' data-row='{row}' data-col='{col}' "
                f"data-value='{value!r}'>pixel ({row}, {col}): attribution "
                f"<b>{fmt(value)}</b>")
        window: dict = {}
        if self.method.value == "occlusion":
            rows, cols, covering = self.patch_at(row, col)
            window = {"rows": list(rows), "cols": list(cols)}
            zoom += (f"<br>the patch at rows {rows[0]}..{rows[-1]}, cols {cols[0]}..{cols[-1]} "
                     f"is drawn on the image; the value is the mean drop of the target logit "
                     f"over the {covering} patch{'es' if covering > 1 else ''} covering this pixel")
        with self.panels.hold_sync():
            self.panels.selected = [row, col]
            self.panels.window = window
            self.panels.zoom = zoom + "</div>"
        self.probe_row.value, self.probe_col.value = row, col
        self.play.value = row * self.out_hw[1] + col

    def _clear_stale(self) -> None:
        """A refused setting: the image alone, no map, selection, patch or probabilities."""
        self.heat = None
        self._show_input_only("map")


def explorer_images(x: torch.Tensor, y: torch.Tensor, pred: torch.Tensor, classes: list[str],
                    confused: list[tuple[str, str, int]] = (), first: int = 6,
                    per_pair: int = 2) -> dict[str, torch.Tensor]:
    """Named validation images for the explorer: ``per_pair`` misclassified images of each
    most-confused pair (true, predicted, count) first, then the first ``first`` images."""
    chosen: dict[str, torch.Tensor] = {}
    for true, predicted, _ in confused:
        t, p = classes.index(true), classes.index(predicted)
        for i in ((y == t) & (pred == p)).nonzero().flatten()[:per_pair].tolist():
            chosen[f"confused: #{i} {true} predicted {predicted}"] = x[i]
    for i in range(min(first, len(x))):
        chosen[f"validation #{i}: {classes[int(y[i])]}"] = x[i]
    return chosen
