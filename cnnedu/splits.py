"""A class-balanced validation split, and what choosing on the test set does.

Every choice made while training (epochs, learning rate, which variant wins) must be judged on
images that are not the test set; the test set is evaluated once per model and reported. A
*validation* split held out from the training images serves the choices.
``class_balanced_split`` holds out the same share of every class (500 per class for 5,000 of
full Fashion-MNIST's 60,000; a proportional part of an unbalanced subset), so validation
accuracy is not tilted towards the classes that happen to be frequent in it.

``pick_on_test`` and ``simulate_pick_on_test`` show why: pick the best of several models on one
set of images, and its score on that set overstates what it scores on fresh images, even when
all the models are equally good. The winner's margin is partly the luck of that set.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cnnedu.data import FashionMNIST


def class_balanced_split(labels: Sequence[int] | torch.Tensor, n_val: int,
                         seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into (train, validation), the validation part ``n_val`` images strong.

    Each class gives validation a share proportional to its size (largest remainders settle
    the rounding, so the total is exactly ``n_val``); which images are drawn is random, fixed by
    ``seed``. Every class keeps at least one training image. Returns two sorted 1-D ``long``
    tensors of indices into ``labels``, disjoint and together covering all of them.
    """
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.numel() == 0 or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be a non-empty 1-D sequence of integer class labels, got "
                         f"shape {tuple(labels.shape)} and dtype {labels.dtype}")
    classes, counts = labels.unique(return_counts=True)
    if not 0 < n_val <= labels.numel() - len(classes):
        raise ValueError(f"n_val must be between 1 and {labels.numel() - len(classes)} (every "
                         f"one of the {len(classes)} classes keeps a training image), got {n_val}")
    exact = counts.double() * n_val / labels.numel()
    take = exact.floor().long()
    remainder_order = torch.argsort(exact - take, descending=True, stable=True)
    take[remainder_order[: n_val - int(take.sum())]] += 1
    # A class that rounds up to all its images hands one back to the class with most room.
    while (full := take >= counts).any():
        c = int(full.nonzero()[0])
        take[c] -= 1
        take[int(torch.argmax(counts - take))] += 1
    generator = torch.Generator().manual_seed(seed)
    val = []
    for cls, n in zip(classes, take, strict=True):
        members = (labels == cls).nonzero().flatten()
        val.append(members[torch.randperm(len(members), generator=generator)[:n]])
    val_idx = torch.cat(val).sort().values
    keep = torch.ones(labels.numel(), dtype=torch.bool)
    keep[val_idx] = False
    return keep.nonzero().flatten(), val_idx


def validation_size(n_train: int, full_train: int = 60_000, full_val: int = 5_000) -> int:
    """Validation images for a training split of ``n_train``: 5,000 of the full 60,000, the same
    fraction (1/12) of a smaller one such as the bundled subset (2,000 -> 167)."""
    return max(1, round(n_train * full_val / full_train))


def subset(dataset: FashionMNIST, indices: torch.Tensor) -> FashionMNIST:
    """A shallow copy of a :class:`~cnnedu.data.FashionMNIST` split holding only ``indices``
    (images and labels sliced; the split name and source kept, so ``is_full`` is False)."""
    indices = torch.as_tensor(indices, dtype=torch.long)
    part = copy.copy(dataset)
    part.images, part.labels = dataset.images[indices], dataset.labels[indices]
    return part


def hold_out(dataset: FashionMNIST, count: int | None = None,
             seed: int = 0) -> tuple[FashionMNIST, FashionMNIST]:
    """``(train, validation)``: ``dataset`` without and with ``count`` class-balanced held-out
    images (default :func:`validation_size`); the original is left unchanged."""
    count = validation_size(len(dataset)) if count is None else count
    if not 0 < count < len(dataset):
        raise ValueError(f"count must be between 1 and {len(dataset) - 1} (the dataset's size "
                         f"minus one), got {count}")
    train_idx, val_idx = class_balanced_split(dataset.labels, count, seed)
    return subset(dataset, train_idx), subset(dataset, val_idx)


@dataclass(frozen=True)
class Pick:
    """The model chosen on one set of images, and how it does on images it was not chosen on."""

    best: int                # index of the model with the highest accuracy on the picking set
    picked_acc: float        # its accuracy on the picking set (what a report would quote)
    fresh_acc: float         # its accuracy on the fresh images
    mean_fresh_acc: float    # all models' mean accuracy on the fresh images

    @property
    def optimism(self) -> float:
        """How much the picking set overstates the chosen model (picked minus fresh)."""
        return self.picked_acc - self.fresh_acc


def pick_on_test(correct: torch.Tensor, n_pick: int, seed: int = 0) -> Pick:
    """Choose the best model on ``n_pick`` random images and score it on the others.

    ``correct``: (models, images) booleans, whether each model (e.g. each training seed) got
    each held-out image right. The images are shuffled with ``seed``; the first ``n_pick``
    play the test set that is (wrongly) used to choose, the rest are fresh data.
    """
    if correct.dim() != 2 or correct.shape[0] < 1:
        raise ValueError(f"correct must have shape (models, images), got {tuple(correct.shape)}")
    if not 0 < n_pick < correct.shape[1]:
        raise ValueError(f"n_pick must be between 1 and {correct.shape[1] - 1} (fresh images must "
                         f"remain), got {n_pick}")
    order = torch.randperm(correct.shape[1], generator=torch.Generator().manual_seed(seed))
    picking, fresh = correct[:, order[:n_pick]].double(), correct[:, order[n_pick:]].double()
    picked = picking.mean(1)
    best = int(torch.argmax(picked))
    return Pick(best, float(picked[best]), float(fresh[best].mean()), float(fresh.mean()))


def simulate_pick_on_test(n_models: int, accuracy: float, n_pick: int, n_fresh: int,
                          trials: int = 200, seed: int = 0) -> float:
    """Mean optimism of picking the best of ``n_models`` *equally good* models on ``n_pick`` images.

    Each model gets each image right with probability ``accuracy``, independently, so no model
    is really better: whatever margin the winner shows on the picking set is luck, and its fresh
    accuracy is ``accuracy`` on average. Returns the mean over ``trials`` of picked minus fresh
    accuracy, which grows with ``n_models`` and shrinks with ``n_pick``.
    """
    if not 0 < accuracy < 1:
        raise ValueError(f"accuracy must be strictly between 0 and 1, got {accuracy}")
    if n_models < 1 or n_fresh < 1 or trials < 1:
        raise ValueError(f"n_models, n_fresh and trials must be at least 1, got {n_models}, "
                         f"{n_fresh} and {trials}")
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(trials):
        correct = torch.rand(n_models, n_pick + n_fresh, generator=generator) < accuracy
        seed_t = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        total += pick_on_test(correct, n_pick, seed=seed_t).optimism
    return total / trials
