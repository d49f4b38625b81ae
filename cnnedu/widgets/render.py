"""Fast image encoding for widgets: NumPy colour mapping and PNG bytes, no matplotlib figure.

A matplotlib redraw costs 80-250 ms; this path (normalise, look up a 256-entry colour table,
nearest-neighbour upscale, Pillow PNG at low compression) costs a few milliseconds, which is what
lets the explorers update within 30 ms.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image

_TABLES: dict[str, np.ndarray] = {}


def colour_table(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of a matplotlib colour map, cached."""
    if name not in _TABLES:
        _TABLES[name] = (colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    return _TABLES[name]


def to_rgb(values: torch.Tensor | np.ndarray, vmin: float | None = None,
           vmax: float | None = None, cmap: str = "gray") -> np.ndarray:
    """A 2-D array -> (H, W, 3) uint8 via a colour map; a (3, H, W) tensor in [0, 1] -> RGB as is.

    Non-finite values (e.g. ``-inf`` from a window that saw only padding) are drawn as 0.
    """
    array = values.detach().cpu().float().numpy() if isinstance(values, torch.Tensor) else values
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] == 3:
        return (np.clip(array, 0, 1).transpose(1, 2, 0) * 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D map or a (3, H, W) image, got shape {array.shape}")
    finite = np.isfinite(array)
    array = np.where(finite, array, 0.0)
    lo = float(array.min()) if vmin is None else vmin
    hi = float(array.max()) if vmax is None else vmax
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    index = np.clip((array - lo) * scale, 0, 255).astype(np.uint8)
    return colour_table(cmap)[index]


def upscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement so small maps (28x28, 4x4) show their pixels as blocks."""
    if factor <= 1:
        return rgb
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def fit_factor(height: int, width: int, target: int) -> int:
    """The integer upscale factor that makes the larger side at most ``target`` pixels (>= 1)."""
    return max(1, target // max(height, width))


def encode(rgb: np.ndarray, lossless_limit: int = 160_000) -> tuple[bytes, str]:
    """Encode for a ``widgets.Image``: PNG when small (exact pixels), JPEG when large (10x faster).

    Returns ``(data, format)``; set the widget's ``format`` to the second value.
    """
    if rgb.shape[0] * rgb.shape[1] <= lossless_limit:
        return png_bytes(rgb), "png"
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue(), "jpeg"


def show(view, rgb: np.ndarray) -> None:
    """Put ``rgb`` into ``view`` (a ``widgets.Image``), choosing the encoding by size."""
    data, fmt = encode(rgb)
    view.format = fmt
    view.value = data


def png_bytes(rgb: np.ndarray) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes (compression level 1: fast, still lossless)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
