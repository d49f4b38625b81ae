"""Pick an image and a layer, see that layer's feature maps as a grid (one tile per channel)."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from cnnedu.features import conv_layer_names, feature_maps
from cnnedu.widgets.base import ExplorerWidget
from cnnedu.widgets.render import show, to_rgb, upscale

TILE = 64  # pixels per feature map on screen


def tile_maps(maps: torch.Tensor, columns: int = 8, tile: int = TILE, gap: int = 2) -> np.ndarray:
    """(C, H, W) maps -> one RGB mosaic; each map scaled to its own range, viridis colours."""
    count, height, width = maps.shape
    factor = max(1, tile // max(height, width))
    rows = -(-count // columns)
    th, tw = height * factor, width * factor
    mosaic = np.full((rows * (th + gap) - gap, columns * (tw + gap) - gap, 3), 255, np.uint8)
    for i, fmap in enumerate(maps):
        r, c = divmod(i, columns)
        rgb = upscale(to_rgb(fmap, cmap="viridis"), factor)
        mosaic[r * (th + gap): r * (th + gap) + th, c * (tw + gap): c * (tw + gap) + tw] = rgb
    return mosaic


class FeatureMapViewer(ExplorerWidget):
    """Feature maps of ``model`` for named inputs (each shaped as the model expects, no batch)."""

    def __init__(self, model: nn.Module, images: dict[str, torch.Tensor],
                 layers: list[str] | None = None, max_maps: int = 32):
        if not images:
            raise ValueError("FeatureMapViewer needs at least one image")
        self.model, self.images, self.max_maps = model, images, max_maps
        self.layers = layers or conv_layer_names(model)
        self._cache: dict[str, dict[str, torch.Tensor]] = {}
        self.image = widgets.Dropdown(options=list(images), description="image")
        self.layer = widgets.Dropdown(options=self.layers, description="layer")
        self.view = widgets.Image(format="png")
        self.label, self.message = widgets.HTML(), widgets.HTML()
        self.image.observe(lambda _: self.update(), names="value")
        self.layer.observe(lambda _: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.image, self.layer]), self.message,
                                    self.label, self.view])
        self.widget.add_class("cnnedu-feature-viewer")
        self.update()

    def maps(self) -> torch.Tensor:
        """The shown layer's maps for the shown image, (C, H, W)."""
        name = self.image.value
        if name not in self._cache:
            x = self.images[name][None]
            self._cache[name] = feature_maps(self.model, x, self.layers).maps
        return self._cache[name][self.layer.value][0]

    def _render(self) -> None:
        maps = self.maps()
        shown = maps[: self.max_maps]
        show(self.view, tile_maps(shown))
        self.label.value = (f"<b>{self.layer.value}</b>: {maps.shape[0]} maps of "
                            f"{maps.shape[1]}×{maps.shape[2]} (showing {len(shown)}; each scaled "
                            "to its own range, yellow = high)")
