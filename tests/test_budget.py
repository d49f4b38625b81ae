"""The verdict counts seed by seed and says when ranges overlap (hand-made runs); a tiny real
run trains and validates on the bundled subset."""

import pytest
from torch import nn

from cnnedu.budget import Run, runs_text, train_families, verdict


def _runs(values):
    return [Run(v, 10, 1.0) for v in values]


def test_verdict_by_hand():
    runs = {"a": _runs([0.80, 0.82, 0.81, 0.83, 0.84]), "b": _runs([0.70, 0.71, 0.72, 0.73, 0.74]),
            "c": _runs([0.81, 0.79, 0.80, 0.80, 0.80])}
    clear = verdict(runs, "a", "b")
    # differences 0.10, 0.11, 0.09, 0.10, 0.10: mean 0.10, sd 0.00707, t = 31.6 (df 4): 5 of 5
    # agree and the two-sided p is about 6e-6
    assert clear.clear and clear.agree == 5 and 5e-6 < clear.p_value < 7e-6
    assert clear.text.startswith("a beat b in this time budget")
    assert "+0.1000" in clear.text and "min +0.0900, max +0.1100" in clear.text
    loose = verdict(runs, "a", "c")            # -0.01, +0.03, +0.01, +0.03, +0.04: 4 of 5
    assert not loose.clear and loose.text.startswith("Not separated")
    quick = verdict(runs, "a", "b", quick=True, full_run_found="a ahead")
    assert quick.text.startswith("Quick mode: too short to judge") and "a ahead" in quick.text
    table = runs_text(runs, budget=0.5)
    assert "0.8200 [0.8000, 0.8400]" in table and "+0.50s" in table   # 1.0 s runs, 0.5 s budget
    assert "100" in table.splitlines()[1]                              # 1.0 s / 10 steps = 100 ms
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
