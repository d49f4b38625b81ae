"""The validation split: disjoint, complete, class-balanced, repeatable (hand-computed cases)."""

import pytest
import torch

from cnnedu.splits import class_balanced_split, validation_size


def test_full_size_split_is_balanced_disjoint_and_repeatable():
    labels = torch.arange(60_000) % 10
    train, val = class_balanced_split(labels, 5_000, seed=0)
    assert len(val) == 5_000 and len(train) == 55_000
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(60_000))
    assert torch.bincount(labels[val]).tolist() == [500] * 10
    again = class_balanced_split(labels, 5_000, seed=0)[1]
    other = class_balanced_split(labels, 5_000, seed=1)[1]
    assert torch.equal(val, again) and not torch.equal(val, other)


def test_unequal_classes_get_proportional_shares():
    labels = torch.tensor([0] * 6 + [1] * 3 + [2] * 1)   # 10 labels, 5 held out: 3, 1.5, 0.5
    _, val = class_balanced_split(labels, 5)
    counts = torch.bincount(labels[val], minlength=3).tolist()
    assert counts == [3, 2, 0]          # floors 3, 1, 0; the one left over: tie, lower class


def test_validation_size_hand_cases():
    assert validation_size(60_000) == 5_000
    assert validation_size(2_000) == 167


@pytest.mark.parametrize("n_val", [0, 10, -1])
def test_bad_size_is_refused(n_val):
    with pytest.raises(ValueError, match="n_val must be between 1 and 9"):
        class_balanced_split(torch.arange(10) % 2, n_val)


def test_subset_slices_images_and_labels_and_leaves_the_original():
    from cnnedu.data import FashionMNIST
    from cnnedu.splits import subset

    full = FashionMNIST("test", root="bundled", limit=50)
    part = subset(full, torch.tensor([3, 7]))
    assert len(part) == 2 and len(full) == 50
    assert torch.equal(part.images[1], full.images[7]) and part.labels[0] == full.labels[3]
