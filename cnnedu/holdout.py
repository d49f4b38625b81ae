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
    for index in (keep.nonzero().flatten(), val_idx):
        part = copy.copy(dataset)              # same split name and source; is_full is False
        part.images, part.labels = dataset.images[index], dataset.labels[index]
        parts.append(part)
    return parts[0], parts[1]
