"""The verdict counts seed by seed and says when ranges overlap (hand-made runs); a tiny real
run trains and validates on the bundled subset."""

import pytest
from torch import nn

from cnnedu.budget import Run, runs_text, train_families, verdict


def _runs(values):
    return [Run(v, 10, 1.0) for v in values]


def test_verdict_by_hand():
    runs = {"a": _runs([0.80, 0.82, 0.81]), "b": _runs([0.70, 0.71, 0.72]),
            "c": _runs([0.81, 0.79, 0.80])}
    assert verdict(runs, "a", "b") == ("a vs b: +0.1000 mean validation accuracy; a better in 3 "
                                       "of 3 seeds; ranges apart")
    assert "a better in 2 of 3 seeds; ranges overlap" in verdict(runs, "a", "c")
    assert "0.8100 [0.8000, 0.8200]" in runs_text(runs)
    with pytest.raises(ValueError, match="no family named 'z'"):
        verdict(runs, "a", "z")


def test_train_families_on_the_bundled_subset(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    from cnnedu.data import FashionMNIST
    from cnnedu.splits import hold_out

    train, val = hold_out(FashionMNIST("train"), 200)

    def tiny():
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    runs = train_families({"linear": tiny}, train, val, seconds=0.05, seeds=(0, 1),
                          progress=False, optimizer="adamw", lr=1e-3)
    assert len(runs["linear"]) == 2 and all(0 <= r.accuracy <= 1 for r in runs["linear"])
    with pytest.raises(ValueError, match="seeds must name"):
        train_families({"linear": tiny}, train, val, 1.0, seeds=())
