"""cnnedu.splits against hand-computed allocations and the known mean of the maximum of normals."""

import math

import pytest
import torch

from cnnedu.data import FashionMNIST
from cnnedu.splits import (
    class_balanced_split,
    pick_on_test,
    simulate_pick_on_test,
    subset,
    validation_size,
)


def _labels(counts):
    return torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])[
        torch.randperm(sum(counts), generator=torch.Generator().manual_seed(1))]


def _per_class(labels, idx, classes):
    return [int((labels[idx] == c).sum()) for c in range(classes)]


def test_full_fashion_mnist_sizes_give_500_per_class():
    labels = _labels([6000] * 10)
    train, val = class_balanced_split(labels, 5000, seed=0)
    assert _per_class(labels, val, 10) == [500] * 10
    assert len(train) == 55_000 and len(set(train.tolist()) | set(val.tolist())) == 60_000
    assert torch.equal(val, val.sort().values) and torch.equal(train, train.sort().values)


def test_the_split_is_fixed_by_the_seed():
    labels = _labels([50, 50, 50])
    assert torch.equal(class_balanced_split(labels, 30, seed=3)[1],
                       class_balanced_split(labels, 30, seed=3)[1])
    assert not torch.equal(class_balanced_split(labels, 30, seed=3)[1],
                           class_balanced_split(labels, 30, seed=4)[1])


@pytest.mark.parametrize("counts, n_val, expected", [
    ([10, 20, 30, 40], 10, [1, 2, 3, 4]),        # exactly proportional
    ([10, 20, 30, 40], 15, [2, 3, 4, 6]),        # 1.5, 3, 4.5, 6: ties go to the first class
    ([1, 99], 50, [0, 50]),                      # 0.5 rounds up, but the class keeps its image
])
def test_unbalanced_classes_get_proportional_hand_counted_shares(counts, n_val, expected):
    labels = _labels(counts)
    train, val = class_balanced_split(labels, n_val)
    assert _per_class(labels, val, len(counts)) == expected
    kept = [c - e for c, e in zip(counts, expected, strict=True)]
    assert _per_class(labels, train, len(counts)) == kept


def test_bundled_subset_is_split_in_proportion(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    labels = FashionMNIST("train").labels
    n_val = len(labels) // 12
    _, val = class_balanced_split(labels, n_val)
    counts = torch.bincount(labels, minlength=10)
    taken = torch.bincount(labels[val], minlength=10)
    assert int(taken.sum()) == n_val
    assert ((taken.double() - counts.double() * n_val / len(labels)).abs() < 1).all()


@pytest.mark.parametrize("labels, n_val, message", [
    ([0, 1, 1], 2, "n_val must be between 1 and 1 .* got 2"),
    ([0, 1, 1], 0, "n_val must be between 1 and 1"),
    ([], 1, "labels must be a non-empty 1-D"),
    ([0.5, 1.0], 1, "integer class labels"),
])
def test_bad_split_arguments_are_named(labels, n_val, message):
    with pytest.raises(ValueError, match=message):
        class_balanced_split(torch.tensor(labels), n_val)


def test_pick_on_test_hand_case():
    correct = torch.stack([torch.ones(10, dtype=torch.bool), torch.zeros(10, dtype=torch.bool)])
    pick = pick_on_test(correct, n_pick=4)
    assert (pick.best, pick.picked_acc, pick.fresh_acc, pick.mean_fresh_acc) == (0, 1.0, 1.0, 0.5)
    assert pick.optimism == 0.0
    with pytest.raises(ValueError, match="n_pick must be between 1 and 9"):
        pick_on_test(correct, n_pick=10)


def test_best_of_equal_models_looks_better_than_it_is():
    """Equal models, accuracy 0.5 on 2,000 picking images: each score has sd sqrt(0.25/2000);
    the best of two overstates by sd * E[max of 2 standard normals] = sd / sqrt(pi)."""
    sd = math.sqrt(0.25 / 2000)
    one = simulate_pick_on_test(1, 0.5, 2000, 2000, trials=300, seed=0)
    two = simulate_pick_on_test(2, 0.5, 2000, 2000, trials=300, seed=0)
    assert abs(one) < 0.0015                               # no choice, no optimism
    assert two == pytest.approx(sd / math.sqrt(math.pi), abs=0.0015)
    ten = simulate_pick_on_test(10, 0.5, 2000, 2000, trials=100, seed=0)
    assert ten == pytest.approx(sd * 1.5388, abs=0.0025)   # E[max of 10 standard normals]


def test_simulation_rejects_impossible_accuracy():
    with pytest.raises(ValueError, match="accuracy must be strictly between 0 and 1, got 1.0"):
        simulate_pick_on_test(3, 1.0, 10, 10)


# ---------------------------------------------------------------- validation_size, subset


def test_validation_size_hand_cases():
    assert validation_size(60_000) == 5_000
    assert validation_size(2_000) == 167


def test_subset_slices_images_and_labels_and_leaves_the_original():
    full = FashionMNIST("test", root="bundled", limit=50)
    part = subset(full, torch.tensor([3, 7]))
    assert len(part) == 2 and len(full) == 50
    assert torch.equal(part.images[1], full.images[7]) and part.labels[0] == full.labels[3]
