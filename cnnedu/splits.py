"""A fixed, class-balanced validation split held out of the training images.

Choices (a learning rate, a method's setting) are made on validation images the model never
trained on, never on the test split; the split is the same on every run for a given seed.
"""

from __future__ import annotations

import torch


def class_balanced_split(labels: torch.Tensor, n_val: int,
                         seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train_indices, val_indices)``, both sorted, with ``n_val`` validation indices spread
    over the classes in proportion to their counts (equal classes: ``n_val / classes`` each;
    the few left over by rounding go to the largest fractional
    shares, ties to the lower class), chosen at random but repeatably.
    """
    labels = torch.as_tensor(labels).flatten()
    if not 0 < n_val < len(labels):
        raise ValueError(f"n_val must be between 1 and {len(labels) - 1} (the number of "
                         f"labels minus one), got {n_val}")
    classes, counts = labels.unique(return_counts=True)
    exact = counts.double() * n_val / len(labels)
    share = exact.floor().long()
    order = torch.argsort(exact - share, descending=True, stable=True)
    share[order[: n_val - int(share.sum())]] += 1
    generator = torch.Generator().manual_seed(seed)
    val = []
    for cls, k in zip(classes.tolist(), share.tolist(), strict=True):
        members = (labels == cls).nonzero().flatten()
        val.append(members[torch.randperm(len(members), generator=generator)[:k]])
    val_idx = torch.cat(val).sort().values
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[val_idx] = False
    return keep.nonzero().flatten(), val_idx


def validation_size(n_train: int, full_train: int = 60_000, full_val: int = 5_000) -> int:
    """Validation images for a training split of ``n_train``: 5,000 of the full 60,000, the same
    fraction (1/12) of a smaller one such as the bundled subset (2,000 -> 167)."""
    return max(1, round(n_train * full_val / full_train))


def subset(dataset, indices: torch.Tensor):
    """A shallow copy of a :class:`cnnedu.data.FashionMNIST` split holding only ``indices``
    (images and labels sliced; the source and split name kept)."""
    import copy

    indices = torch.as_tensor(indices, dtype=torch.long)
    part = copy.copy(dataset)
    part.images, part.labels = dataset.images[indices], dataset.labels[indices]
    return part
