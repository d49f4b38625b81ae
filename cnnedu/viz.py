"""Plots for the lessons (matplotlib): sample grids, image rows, feature maps, filters, fields."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from cnnedu.curves import smoothed
from cnnedu.data import CLASS_NAMES


def show_fashion_grid(dataset, per_class: int = 3, classes: Sequence[str] = CLASS_NAMES):
    """A grid with ``per_class`` images of each class (columns), class names on top."""
    fig, axes = plt.subplots(per_class, len(classes), figsize=(1.2 * len(classes), 1.3 * per_class))
    axes = axes.reshape(per_class, len(classes))
    for label, name in enumerate(classes):
        indices = (dataset.labels == label).nonzero().flatten()[:per_class]
        for row, index in enumerate(indices):
            ax = axes[row, label]
            ax.imshow(dataset.images[index], cmap="gray_r")
            ax.axis("off")
            if row == 0:
                ax.set_title(name, fontsize=8)
    fig.tight_layout()
    return fig


def show_images(images: Sequence[torch.Tensor], titles: Sequence[str] | None = None,
                cmap: str = "gray", size: float = 3.0, vmin: float | None = None,
                vmax: float | None = None):
    """One row of images (each (H, W), (1, H, W) or (3, H, W)) with optional titles."""
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size), squeeze=False)
    for i, (ax, image) in enumerate(zip(axes[0], images, strict=True)):
        image = image.detach().cpu()
        if image.dim() == 3 and image.shape[0] == 3:
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1))
        else:
            ax.imshow(image.squeeze(0), cmap=cmap, vmin=vmin, vmax=vmax)
        ax.axis("off")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def show_feature_maps(maps: torch.Tensor, title: str = "", max_maps: int = 32, cols: int = 8):
    """A grid of the first ``max_maps`` channels of one feature map (C, H, W) or (1, C, H, W)."""
    if maps.dim() == 4:
        maps = maps[0]
    if maps.dim() != 3:
        raise ValueError(f"expected (C, H, W) feature maps, got shape {tuple(maps.shape)}")
    maps = maps.detach().float().cpu()[:max_maps]
    rows = math.ceil(len(maps) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, fmap in zip(axes.flat, maps, strict=False):
        ax.imshow(fmap, cmap="viridis")
    fig.suptitle(f"{title} ({tuple(maps.shape[-2:])[0]}×{maps.shape[-1]}, first {len(maps)} "
                 "channels)", fontsize=10)
    fig.tight_layout()
    return fig


def show_filters(weight: torch.Tensor, title: str = "first-layer filters", cols: int = 8):
    """Plot convolution kernels (out, in, kH, kW): one tile per output channel (in-channel 0,
    or RGB when there are three input channels), each tile scaled to its own range."""
    weight = weight.detach().float().cpu()
    rows = math.ceil(len(weight) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.1 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, kernel in zip(axes.flat, weight, strict=False):
        if kernel.shape[0] == 3:
            k = kernel - kernel.min()
            ax.imshow((k / k.max().clamp_min(1e-12)).permute(1, 2, 0))
        else:
            ax.imshow(kernel[0], cmap="RdBu_r", vmin=-kernel[0].abs().max(),
                      vmax=kernel[0].abs().max())
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_receptive_field(image: torch.Tensor, fields: Sequence[tuple[str, int]],
                         center: tuple[int, int] | None = None):
    """Draw the receptive field (size in input pixels) of a centre output unit for each layer."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    image = image.detach().cpu()
    ax.imshow(image.squeeze(0) if image.shape[0] == 1 else image.permute(1, 2, 0), cmap="gray")
    height, width = image.shape[-2:]
    cy, cx = center or (height // 2, width // 2)
    colours = plt.cm.plasma(torch.linspace(0, 0.9, len(fields)).numpy())
    for (name, size), colour in zip(fields, colours, strict=True):
        ax.add_patch(Rectangle((cx - size / 2, cy - size / 2), size, size, fill=False,
                               edgecolor=colour, linewidth=2, label=f"{name}: {size}×{size}"))
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
    ax.set_title("receptive field of one centre unit, per layer", fontsize=9)
    ax.axis("off")
    return fig


def plot_runs(ax, runs: Sequence, label: str, color: str, window: int = 20,
              ylim: tuple[float, float] | None = None) -> None:
    """Smoothed training loss of one setup over several seeds: each run thin, their mean thick.

    ``ylim`` fixes the y-range so that one diverging run cannot squash the others' curves
    (values outside it are drawn at the edge and should be named in the text or a table).
    """

    curves = [smoothed(h.step_loss, window) for h in runs]
    for curve in curves:
        ax.plot(curve, color=color, alpha=0.35, linewidth=0.8)
    length = min(len(c) for c in curves)
    mean = [sum(c[i] for c in curves) / len(curves) for i in range(length)]
    ax.plot(mean, color=color, linewidth=2, label=f"{label} (mean of {len(curves)})")
    if ylim is not None:
        ax.set_ylim(*ylim)
