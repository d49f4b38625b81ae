"""Every exercise of the course by its id ("01.2"), and ``solution(id)`` to show its answer.

Coding exercises are :class:`~cnnedu.exercises.functions.Exercise` objects whose reference
solution lives in the lesson's module (``cnnedu.exercises.lesson01`` ...); answer-a-number
exercises are :class:`Numeric` entries holding the worked answer.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass

from .functions import Exercise


@dataclass(frozen=True)
class Numeric:
    """An answer-a-number exercise: ``answer`` is its answer cell filled in, e.g. ``answer_1 = 56``."""

    id: str
    answer: str
    explanation: str


EXERCISES: dict[str, Exercise | Numeric] = {}


def register(*exercises: Exercise | Numeric) -> None:
    for exercise in exercises:
        if exercise.id in EXERCISES:
            raise ValueError(f"exercise id {exercise.id!r} is used twice")
        EXERCISES[exercise.id] = exercise


def get(exercise_id: str) -> Exercise | Numeric:
    """The exercise called ``exercise_id``; a ValueError lists the known ids otherwise."""
    try:
        return EXERCISES[str(exercise_id)]
    except KeyError:
        raise ValueError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(EXERCISES))}") \
            from None


def solution(exercise_id: str) -> None:
    """Print a reference solution of exercise ``exercise_id`` with a short explanation.

    Try first: the exercise teaches more than its solution does.
    """
    exercise = get(exercise_id)
    print(f"Exercise {exercise.id}: a reference solution\n")
    print(textwrap.fill(" ".join(exercise.explanation.split()), 96) + "\n")
    if isinstance(exercise, Numeric):
        print(exercise.answer)
    else:
        print(inspect.getsource(exercise.reference).rstrip())


def solution_cell(exercise_id: str) -> str:
    """The code that fills in exercise ``exercise_id``'s answer cell (used by the tests)."""
    exercise = get(exercise_id)
    if isinstance(exercise, Numeric):
        return exercise.answer
    reference = exercise.reference
    return f"from {reference.__module__} import {reference.__name__} as {exercise.name}"
