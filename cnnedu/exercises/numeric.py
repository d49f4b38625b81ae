"""``check``: the answer-a-number exercises. The learner types a value, the check cell says ✅ or ❌.

The expected value is always *computed* by the notebook (with PyTorch or cnnedu), never typed in,
so an exercise cannot drift from the code it is about. Answers are compared by meaning, not by
form: ``56``, ``56.0``, ``torch.tensor(56)`` and ``np.int64(56)`` are the same answer, and where
order does not matter (``unordered=True``) so are ``"bd"``, ``"db"``, ``"d, b"`` and ``["b", "d"]``.

Hints are for after a wrong try: the first wrong answer shows the first hint, a second wrong
answer adds the next one, and so on. No hint is shown before the learner has tried.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cnnedu.exercises.tries import count_wrong_try


def check(answer: object, expected: object, hint: str | Sequence[str] = (), *,
          exercise: str | None = None, unordered: bool = False, tolerance: float = 1e-6) -> bool:
    """Print ✅ if ``answer`` means the same as ``expected``, else ❌ (and a hint); return which.

    ``answer`` of ``None`` (or ``...``) means "not answered yet". ``hint`` is one hint or a list
    of hints, shown one more per wrong try. ``exercise`` (e.g. ``"01.1"``) names the exercise in
    the message and counts its tries; ``unordered`` accepts any order of a string's letters or a
    list's items; numbers match within ``tolerance`` (relative and absolute).
    """
    hints = [hint] if isinstance(hint, str) else list(hint)
    label = f"{exercise} " if exercise else ""
    exercise_id = exercise.split()[0] if exercise else None     # "01.4 (max)" -> "01.4"
    if answer is None or answer is Ellipsis:
        where = f" `solution(\"{exercise_id}\")` shows one." if exercise else ""
        print(f"✏️  {label}not answered yet: replace the None with your answer.{where}")
        return False
    if _equal(_plain(answer), _plain(expected), tolerance, unordered):
        print(f"✅ {label}correct: {_plain(expected)!r}")
        return True
    key = exercise or (hints[0] if hints else repr(expected))
    tries = count_wrong_try(key)
    print(f"❌ {label}not quite: you said {_plain(answer)!r}.")
    for number, text in enumerate(hints[:tries], start=1):
        print(f"   Hint {number}: {text}" if len(hints) > 1 else f"   Hint: {text}")
    if tries > len(hints) and exercise:
        print(f"   `solution(\"{exercise_id}\")` shows the worked answer.")
    return False


def _plain(value: object) -> object:
    """Tensors and numpy values -> Python numbers or (nested) lists; other values unchanged."""
    if hasattr(value, "tolist") and callable(value.tolist) and not isinstance(value, (list, tuple)):
        return value.tolist()           # torch.Tensor, np.ndarray, np.generic: .item() for 0-d
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _equal(a: object, b: object, tolerance: float, unordered: bool) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):      # True is not an answer of 1
        return type(a) is type(b) and a == b
    if unordered:
        return _equal(_sorted_items(a), _sorted_items(b), tolerance, False)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y, tolerance, False)
                                        for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return a == b


def _sorted_items(value: object) -> object:
    """A collection as a sorted list; a string counts as its letters (spaces, commas ignored)."""
    if isinstance(value, str):
        return sorted(c for c in value.lower() if c.isalnum())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        if all(isinstance(v, str) for v in items):
            return sorted("".join(items).lower().replace(",", "").replace(" ", ""))
        try:
            return sorted(items)
        except TypeError:
            return items
    return value
