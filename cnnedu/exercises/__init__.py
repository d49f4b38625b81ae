"""Auto-checked exercises. Two kinds, both printing ✅ or ❌ with feedback and returning True/False:

* ``check(answer, expected, hint)``: answer a number (or a list, or some letters);
* ``check_code("01.3", max_pool2d)``: write a function or a module; it is run on many inputs and
  compared with PyTorch (or the course's own tested code).

``solution("01.3")`` prints a reference solution with a short explanation. The reference
solutions live here, one module per lesson (``lesson01`` ... ``lesson08``), not in the notebooks.
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
    return functions.run_checks(exercise, answer)


from . import lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06  # noqa: E402, F401, I001 (they register)
from . import backward  # noqa: E402, F401, I001 (registers 01.5, 02.5, 03.5 after the lessons)
from . import lesson08  # noqa: E402, F401, I001 (registers)
from . import lesson07  # noqa: E402, F401, I001 (they register)

__all__ = ["EXERCISES", "check", "check_code", "solution", "solution_cell"]
