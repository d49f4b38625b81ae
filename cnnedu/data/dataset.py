"""One split of Fashion-MNIST in memory, normalised like torchvision's ``ToTensor`` + ``Normalize``."""

from __future__ import annotations

import os

import numpy as np
import torch

from cnnedu.data.sources import SPLIT_SIZES, find_split

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MEAN, STD = 0.2860, 0.3530  # of the 60,000 training images, scaled to [0, 1]


class FashionMNIST(torch.utils.data.Dataset):
    """One split of Fashion-MNIST in memory: ``images`` (N, 28, 28) uint8, ``labels`` (N,) int64.

    Indexing gives ``(image, label)`` with the image as a normalised float tensor (1, 28, 28),
    like torchvision's dataset with ``ToTensor()`` and ``Normalize``; training code should use
    :class:`BatchLoader`, which slices whole batches instead of one item at a time.
    """

    classes = CLASS_NAMES

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 limit: int | None = None, seed: int = 0):
        images, labels, source = find_split(split, root)
        self.split, self.source = split, source
        self.images = torch.from_numpy(images.copy())
        self.labels = torch.from_numpy(labels.astype(np.int64))
        if limit is not None:
            keep = balanced_indices(self.labels, limit, seed)
            self.images, self.labels = self.images[keep], self.labels[keep]

    @property
    def is_full(self) -> bool:
        """True when this split holds the whole official split (60,000 or 10,000 images)."""
        return len(self) == SPLIT_SIZES[self.split]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return normalize(self.images[index][None]), int(self.labels[index])

    def __repr__(self) -> str:
        return f"FashionMNIST(split={self.split!r}, n={len(self)}, source={self.source})"


def balanced_indices(labels: torch.Tensor, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` indices with the classes as equal as possible, chosen at random but repeatably."""
    if count < 1:
        raise ValueError(f"limit must be at least 1, got {count}")
    if count >= len(labels):
        return torch.arange(len(labels))
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    # Stable sort by "rank of this item within its class": takes round-robin across classes.
    rank = torch.empty_like(order)
    shuffled = labels[order]
    for cls in shuffled.unique():
        where = (shuffled == cls).nonzero().flatten()
        rank[where] = torch.arange(len(where))
    keep = order[torch.argsort(rank, stable=True)[:count]]
    return keep.sort().values


def normalize(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32, scaled to [0, 1] then standardised with the training mean/std."""
    return (images_uint8.float() / 255.0 - MEAN) / STD
