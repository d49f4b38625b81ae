"""Lesson 00 (start here): a warm-up coding exercise that shows how the checks work."""

from __future__ import annotations

import torch

from .functions import Case, Exercise, Mistake
from .registry import register


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0) element by element, keeping the dtype."""
    return x.clamp(min=0)


def _cases() -> list[Case]:
    return [Case("x of shape (3, 4), random values", (torch.randn(3, 4),)),
            Case("x = torch.zeros(2, 2)", (torch.zeros(2, 2),)),
            Case("x of shape (2, 3, 5, 5), random values", (torch.randn(2, 3, 5, 5),)),
            Case("x = torch.tensor([-2, 0, 3]) (integers)", (torch.tensor([-2, 0, 3]),))]


register(Exercise(
    id="00.1", name="relu", reference=relu, truth=torch.relu, against="torch.relu",
    cases=_cases,
    explanation="ReLU keeps positive values and replaces negative ones by 0; clamp(min=0) does "
                "that for any shape and keeps the input's dtype.",
    mistakes=[
        Mistake("ReLU keeps the positive values and sets the negative ones to 0: you did the "
                "opposite.", lambda x: x.clamp(max=0)),
        Mistake("negative values become 0, not their absolute value.", lambda x: x.abs()),
        Mistake("negative values must become 0.", lambda x: x),
        Mistake("keep the input's dtype: a literal 0.0 turns integers into floats.",
                detect=lambda case, expected, got: isinstance(got, torch.Tensor)
                and got.dtype != expected.dtype),
        Mistake("Python's max() compares the whole tensor with 0 at once and cannot decide; you "
                "need the maximum element by element: look at torch.clamp or torch.maximum.",
                error=r"Boolean value of Tensor with more than one"),
    ],
    more="try your function on torch.tensor([-1.0, 2.0]) in a cell: you should get [0., 2.].",
))
