"""Pick an image and a layer, see that layer's feature maps as a grid (one tile per channel)."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from cnnedu.features import conv_layer_names, feature_maps
from cnnedu.widgets.base import ExplorerWidget
from cnnedu.widgets.panels import PixelPanels, panel
from cnnedu.widgets.render import fit_factor, show, to_rgb, upscale

TILE = 64  # pixels per feature map on screen
TILE_COLUMNS = 8
GAP = 2
# the enlarged map's larger side on screen, in pixels (a 14x14 map: 22x enlarged, 308 px)
BIG = 320


def tile_shape(height: int, width: int, tile: int = TILE) -> tuple[int, int]:
    """On-screen size of one (height, width) map in the mosaic: enlarged by the whole-number
    factor that fits it in ``tile`` pixels (at least 1)."""
    factor = fit_factor(height, width, tile)
    return height * factor, width * factor


def tile_maps(maps: torch.Tensor, columns: int = TILE_COLUMNS, tile: int = TILE, gap: int = GAP,
              vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """(C, H, W) maps -> one RGB mosaic in viridis colours.

    By default each map is scaled to its own range (every map shows its pattern, but a dead,
    all-zero map looks like any other); with ``vmin``/``vmax`` all maps share one scale, so
    weak and dead maps look weak and dead.
    """
    count, height, width = maps.shape
    th, tw = tile_shape(height, width, tile)
    factor = th // height
    rows = -(-count // columns)
    mosaic = np.full((rows * (th + gap) - gap, columns * (tw + gap) - gap, 3), 255, np.uint8)
    for i, fmap in enumerate(maps):
        r, c = divmod(i, columns)
        rgb = upscale(to_rgb(fmap, vmin=vmin, vmax=vmax, cmap="viridis"), factor)
        mosaic[r * (th + gap): r * (th + gap) + th, c * (tw + gap): c * (tw + gap) + tw] = rgb
    return mosaic


def describe_layers(model: nn.Module, layers: list[str]) -> dict[str, str]:
    """Readable names for layers: ``"features.3"`` -> ``"conv2 · features.3 (32→64, 3×3), before
    ReLU"``. Convolutions are numbered in definition order; "before ReLU" is said when the next
    module in the model is a ReLU (the maps shown are the convolution's output, negatives
    included: the ReLU after it has not been applied yet)."""
    modules = list(model.named_modules())
    conv_number = {name: i + 1 for i, name in
                   enumerate(n for n, m in modules if isinstance(m, nn.Conv2d))}
    order = [n for n, _ in modules]
    names = {}
    for layer in layers:
        module = dict(modules)[layer]
        if not isinstance(module, nn.Conv2d):
            names[layer] = f"{layer} ({type(module).__name__})"
            continue
        k = "×".join(str(v) for v in module.kernel_size)
        text = (f"conv{conv_number[layer]} · {layer} ({module.in_channels}→"
                f"{module.out_channels}, {k})")
        following = [dict(modules)[n] for n in order[order.index(layer) + 1:]
                     if not list(dict(modules)[n].children())][:1]
        if following and isinstance(following[0], nn.ReLU):
            text += ", before ReLU"
        names[layer] = text
    return names


class FeatureMapViewer(ExplorerWidget):
    """Feature maps of ``model`` for named inputs (each shaped as the model expects, no batch).

    All maps of a layer, ``max_maps`` per page; a common colour scale or one per map; and one
    map enlarged: click it in the grid (or type its number, the keyboard way).
    """

    def __init__(self, model: nn.Module, images: dict[str, torch.Tensor],
                 layers: list[str] | None = None, max_maps: int = 32):
        if not images:
            raise ValueError("FeatureMapViewer needs at least one image")
        if max_maps < 1:
            raise ValueError(f"max_maps must be at least 1, got {max_maps}")
        self.model, self.images, self.max_maps = model, images, max_maps
        self.layers = layers or conv_layer_names(model)
        self.layer_names = describe_layers(model, self.layers)
        self._cache: dict[str, dict[str, torch.Tensor]] = {}
        self.image = widgets.Dropdown(options=list(images), description="image")
        self.layer = widgets.Dropdown(options=self.layers, description="layer")
        self.scale = widgets.ToggleButtons(options=["each map", "common"], value="each map",
                                           description="colours",
                                           tooltips=["each map scaled to its own range",
                                                     "one scale for all maps of the layer: "
                                                     "dead maps look dead"])
        self.page = widgets.IntSlider(value=1, min=1, max=1, description="page",
                                      continuous_update=False)
        self.enlarge = widgets.BoundedIntText(value=0, min=0, max=0, description="enlarged map",
                                              style={"description_width": "initial"},
                                              layout=widgets.Layout(width="170px"))
        self.view = PixelPanels(size=TILE_COLUMNS * (TILE + GAP) - GAP)
        self.big = widgets.Image(format="png")
        self.label, self.big_label, self.message = widgets.HTML(), widgets.HTML(), widgets.HTML()
        for control in (self.image, self.layer, self.scale, self.page):
            control.observe(self._on_change, names="value")
        self.enlarge.observe(self._on_enlarge, names="value")
        self.view.observe(self._on_click, names="selected")
        self.widget = widgets.VBox([
            widgets.HBox([self.image, self.layer]), widgets.HBox([self.scale, self.page]),
            self.message, self.label,
            widgets.HBox([self.view, widgets.VBox([self.enlarge, self.big_label, self.big])])])
        self.widget.add_class("cnnedu-feature-viewer")
        self.update()

    def maps(self) -> torch.Tensor:
        """The shown layer's maps for the shown image, (C, H, W)."""
        name = self.image.value
        if name not in self._cache:
            x = self.images[name][None]
            self._cache[name] = feature_maps(self.model, x, self.layers).maps
        return self._cache[name][self.layer.value][0]

    def _tile_hw(self) -> tuple[int, int]:
        """On-screen size of one map of the shown layer in the grid."""
        return tile_shape(*self.maps().shape[1:])

    def map_at(self, row: int, col: int) -> int | None:
        """The map index under grid pixel (row, col) of the shown page, or None (a gap)."""
        th, tw = self._tile_hw()
        (r, dr), (c, dc) = divmod(row, th + GAP), divmod(col, tw + GAP)
        if dr >= th or dc >= tw or c >= TILE_COLUMNS:
            return None
        index = (self.page.value - 1) * self.max_maps + r * TILE_COLUMNS + c
        return index if index < self.maps().shape[0] else None

    def _on_click(self, change: dict) -> None:
        if self._updating or len(change["new"]) != 2:
            return
        index = self.map_at(*change["new"])
        if index is not None:
            self.enlarge.value = index        # redraws the big map via _on_enlarge

    def _on_enlarge(self, change: dict) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            self._show_big(self.maps(), *self._scale())
            self._mark_tile()
        finally:
            self._updating = False

    def _scale(self) -> tuple[float | None, float | None]:
        maps = self.maps()
        if self.scale.value == "common":
            return float(maps.min()), float(maps.max())
        return None, None

    def _mark_tile(self) -> None:
        """Frame the enlarged map's tile in the grid (nothing if it is on another page)."""
        th, tw = self._tile_hw()
        r, c = divmod(self.enlarge.value - (self.page.value - 1) * self.max_maps, TILE_COLUMNS)
        if 0 <= r * TILE_COLUMNS + c < self.max_maps:
            top, left = r * (th + GAP), c * (tw + GAP)
            self.view.window = {"rows": list(range(top, top + th)),
                                "cols": list(range(left, left + tw))}
        else:
            self.view.window = {}

    def _show_big(self, maps: torch.Tensor, vmin: float | None, vmax: float | None) -> None:
        index = min(self.enlarge.value, maps.shape[0] - 1)
        one = maps[index]
        show(self.big, upscale(to_rgb(one, vmin=vmin, vmax=vmax, cmap="viridis"),
                               max(1, BIG // max(one.shape))))
        self.big_label.value = (f"map {index}: min {float(one.min()):.2f}, "
                                f"max {float(one.max()):.2f}")

    def _render(self) -> None:
        maps = self.maps()
        count = maps.shape[0]
        pages = -(-count // self.max_maps)
        self.page.max = pages
        self.page.layout.display = "" if pages > 1 else "none"
        self.enlarge.max = count - 1
        first = (min(self.page.value, pages) - 1) * self.max_maps
        shown = maps[first: first + self.max_maps]
        vmin, vmax = self._scale()
        common = vmin is not None
        mosaic = tile_maps(shown, vmin=vmin, vmax=vmax)
        self.view.size = max(mosaic.shape[:2])
        self.view.panels = [panel("input", "click a map to enlarge it", mosaic, click_only=True)]
        dead = int((maps.flatten(1).abs().amax(1) == 0).sum())
        scale_text = (f"one colour scale for all ({vmin:.2f} to {vmax:.2f})" if common
                      else "each map scaled to its own range")
        self.label.value = (f"<b>{self.layer_names[self.layer.value]}</b>: {count} maps of "
                            f"{maps.shape[1]}×{maps.shape[2]}; maps {first}-{first + len(shown) - 1}"
                            f" shown ({scale_text}; yellow = high); all-zero maps: {dead}")
        self._show_big(maps, vmin, vmax)
        self._mark_tile()
