"""hold_out: disjoint, class-balanced, repeatable."""

from __future__ import annotations

import pytest
import torch

from cnnedu.data import FashionMNIST
from cnnedu.splits import hold_out


def test_split_is_disjoint_balanced_and_repeatable(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    data = FashionMNIST("train")
    train, val = hold_out(data, 200, seed=3)
    assert len(train) + len(val) == len(data) and len(val) == 200
    assert torch.bincount(val.labels, minlength=10).tolist() == [20] * 10
    pixels = {bytes(img.numpy()) for img in val.images}
    assert not pixels & {bytes(img.numpy()) for img in train.images[:300]}
    again, val_again = hold_out(data, 200, seed=3)
    assert torch.equal(val.images, val_again.images) and torch.equal(train.labels, again.labels)
    assert len(data) == len(data.labels)                     # the original is unchanged
    assert not train.is_full and not val.is_full


def test_bad_count_is_named(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    data = FashionMNIST("train")
    with pytest.raises(ValueError, match="count must be between 1 and"):
        hold_out(data, len(data))
