"""Auto-checked exercises: the learner writes an answer, a check cell says ✅ or ❌ with a hint.

The expected value is always *computed* by the notebook (with PyTorch or cnnedu), never typed in,
so an exercise cannot drift from the code it is about.
"""

from __future__ import annotations

import math


def check(answer: object, expected: object, hint: str, tolerance: float = 1e-6) -> bool:
    """Print ✅ if ``answer`` equals ``expected`` (numbers within ``tolerance``), else ❌ + hint.

    ``answer`` of ``None`` (or Ellipsis) means "not answered yet". Returns whether it was right.
    """
    if answer is None or answer is Ellipsis:
        print(f"✏️  Not answered yet: replace the ... / None with your answer. Hint: {hint}")
        return False
    if _equal(answer, expected, tolerance):
        print(f"✅ Correct: {expected!r}")
        return True
    print(f"❌ Not quite: you said {answer!r}. Hint: {hint}")
    return False


def _equal(a: object, b: object, tolerance: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):      # True is not an answer of 1
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y, tolerance) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=tolerance, abs_tol=tolerance)
    return a == b
