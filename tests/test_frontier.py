"""pareto_front on hand-made points."""

import pytest

from cnnedu.frontier import pareto_front


def test_front_by_hand():
    points = {"a": (1.0, 60.0), "b": (2.0, 70.0), "c": (3.0, 65.0),   # c: b is cheaper and better
              "d": (4.0, 80.0), "e": (4.0, 75.0), "f": (0.5, 50.0)}   # e: d costs the same, better
    assert pareto_front(points) == ["f", "a", "b", "d"]


def test_ties_keep_both_and_bad_cost_is_named():
    assert pareto_front({"x": (1.0, 5.0), "y": (1.0, 5.0)}) == ["x", "y"]
    with pytest.raises(ValueError, match="cost must be positive"):
        pareto_front({"x": (0.0, 5.0)})
