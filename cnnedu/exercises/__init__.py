"""Auto-checked exercises. Two kinds, both printing ✅ or ❌ with feedback and returning True/False:

* ``check(answer, expected, hint)``: answer a number (or a list, or some letters);
* ``check_code("01.3", max_pool2d)``: write a function or a module; it is run on many inputs and
  compared with PyTorch (or the course's own tested code).

``solution("01.3")`` prints a reference solution with a short explanation. The reference
solutions live here, one module per lesson (``lesson01`` ... ``lesson06``), not in the notebooks.
"""

from __future__ import annotations

from . import functions
from .numeric import check
from .registry import EXERCISES, Numeric, get, solution, solution_cell


def check_code(exercise_id: str, answer: object) -> bool:
    """Check the learner's function or class ``answer`` for exercise ``exercise_id``."""
    exercise = get(exercise_id)
    if isinstance(exercise, Numeric):
        raise ValueError(f"exercise {exercise_id!r} asks for a value: use check(...)")
    return functions.check_code(exercise, answer)


from . import lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07  # noqa: E402, F401, I001 (they register)

__all__ = ["EXERCISES", "check", "check_code", "solution", "solution_cell"]
