"""A fixed, class-balanced validation split held out of the training images (lesson 08).

Choices between models are made on images no model trained on, never on the test split. The
held-out images are picked by :func:`cnnedu.data.balanced_indices` (classes as equal as
possible, random but repeatable), so every run of a lesson holds out the same ones.
"""

from __future__ import annotations

import copy

import torch

from cnnedu.data import FashionMNIST, balanced_indices


def hold_out(dataset: FashionMNIST, count: int, seed: int = 0) -> tuple[FashionMNIST, FashionMNIST]:
    """``(train, validation)``: copies of ``dataset`` without and with ``count`` held-out images."""
    if not 0 < count < len(dataset):
        raise ValueError(f"count must be between 1 and {len(dataset) - 1} (the dataset's size "
                         f"minus one), got {count}")
    val_idx = balanced_indices(dataset.labels, count, seed)
    keep = torch.ones(len(dataset), dtype=torch.bool)
    keep[val_idx] = False
    parts = []
    for index, split in ((keep.nonzero().flatten(), "train (validation held out)"),
                         (val_idx, "validation")):
        part = copy.copy(dataset)
        part.images, part.labels, part.split = dataset.images[index], dataset.labels[index], split
        parts.append(part)
    return parts[0], parts[1]
