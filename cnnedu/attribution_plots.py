"""Plots for lesson 07: confusion matrix, image grids with probabilities, reliability diagrams,
attribution maps side by side, deletion curves, and a channel's top images with unit boxes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from cnnedu.error_analysis import Reliability


def show_confusion(matrix: torch.Tensor, names: Sequence[str], normalised: bool = True):
    """The confusion matrix as a heat map, rows = true class; each cell printed (share or
    count)."""
    values = matrix.double() / matrix.sum(1, keepdim=True).clamp(min=1) if normalised \
        else matrix.double()
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(values, cmap="Blues")
    for i in range(len(names)):
        for j in range(len(names)):
            v = values[i, j].item()
            text = f"{v:.2f}" if normalised else f"{int(v)}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if v > values.max().item() / 2 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("share of each true class predicted as ..." if normalised else "counts")
    fig.tight_layout()
    return fig


def show_image_grid(images: torch.Tensor, titles: Sequence[str], cols: int = 8,
                    size: float = 1.4):
    """Images (N, H, W) in a grid, each with a (multi-line) title."""
    rows = max(1, -(-len(images) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, (size + 0.5) * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(image, cmap="gray_r")
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    return fig


def show_reliability(diagrams: dict[str, Reliability]):
    """Accuracy vs confidence per bin for each run (the diagonal = perfectly calibrated)."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    for name, r in diagrams.items():
        keep = r.count > 0
        ax.plot(r.confidence[keep], r.accuracy[keep], "o-", ms=3,
                label=f"{name} (ECE {r.ece:.3f})")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def show_attributions(images: torch.Tensor, maps: dict[str, torch.Tensor],
                      titles: Sequence[str], size: float = 1.6):
    """One row per image: the image, then each method's map (N, 1, H, W) over it."""
    cols = 1 + len(maps)
    fig, axes = plt.subplots(len(images), cols, figsize=(size * cols, size * len(images)),
                             squeeze=False)
    for i, image in enumerate(images):
        axes[i, 0].imshow(image, cmap="gray_r")
        axes[i, 0].set_ylabel(titles[i], fontsize=7)
        for j, (name, m) in enumerate(maps.items(), start=1):
            axes[i, j].imshow(image, cmap="gray_r", alpha=0.35)
            axes[i, j].imshow(m[i, 0].detach(), cmap="magma", alpha=0.75)
            if i == 0:
                axes[i, j].set_title(name, fontsize=8)
        if i == 0:
            axes[i, 0].set_title("image", fontsize=8)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_deletion(fractions: Sequence[float], curves: dict[str, torch.Tensor]):
    """Mean probability of the true class vs fraction of pixels deleted, per method."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, c in curves.items():
        ax.plot(fractions, c.mean(0), "--" if name.startswith("random") else "-", label=name)
    ax.set_xlabel("fraction of pixels deleted (most-attributed first)")
    ax.set_ylabel("probability of the true class")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def show_top_units(images: torch.Tensor, boxes: Sequence[tuple[int, int, int, int]],
                   titles: Sequence[str], feature_maps: torch.Tensor | None = None):
    """Top-activating images with the maximal unit's receptive field (top, left, bottom, right),
    drawn inside the image; below each, the channel's feature map if given."""
    rows = 2 if feature_maps is not None else 1
    fig, axes = plt.subplots(rows, len(images), figsize=(1.6 * len(images), 1.8 * rows),
                             squeeze=False)
    for k, (image, box, title) in enumerate(zip(images, boxes, titles, strict=True)):
        ax = axes[0, k]
        ax.imshow(image, cmap="gray_r")
        top, left, bottom, right = box
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                               fill=False, edgecolor="red", lw=1.5))
        ax.set_title(title, fontsize=7)
        ax.axis("off")
        if feature_maps is not None:
            axes[1, k].imshow(feature_maps[k], cmap="viridis")
            axes[1, k].axis("off")
    fig.tight_layout()
    return fig
