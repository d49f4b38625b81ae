"""benchmarks/levers.py: the held-out validation split (balanced, disjoint, seed-fixed)."""

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "levers.py"
spec = importlib.util.spec_from_file_location("levers", SCRIPT)
levers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(levers)


def test_validation_split_is_balanced_disjoint_and_complete():
    labels = torch.tensor([0] * 7 + [1] * 5 + [2] * 9)
    train, val = levers.validation_split(labels, per_class=2, seed=3)
    assert torch.bincount(labels[val]).tolist() == [2, 2, 2]          # 2 of each class
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(21))     # nothing lost
    again = levers.validation_split(labels, per_class=2, seed=3)[1]
    assert torch.equal(again, val)                                      # fixed by its seed
    other = levers.validation_split(labels, per_class=2, seed=4)[1]
    assert not torch.equal(other, val)                                  # and moved by it


@pytest.mark.parametrize("per_class", [0, 5])
def test_validation_split_rejects_a_bad_size(per_class):
    labels = torch.tensor([0] * 7 + [1] * 5)
    with pytest.raises(ValueError, match=f"per_class must be >= 1 and below the smallest class "
                                         f"size 5, got {per_class}"):
        levers.validation_split(labels, per_class)
