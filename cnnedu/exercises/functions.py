"""``run_checks``: the write-the-code exercises, checked against PyTorch on many inputs.

(Lessons call it through ``cnnedu.exercises.check_code("01.3", fn)``, which finds the exercise
by its id; this module's function takes the :class:`Exercise` itself, hence the other name.)

An :class:`Exercise` knows its reference (PyTorch or the course's own code), a list of cases
(several shapes, settings and edge cases: padding at the border, batch size 1, ties, ...) and
the common mistakes it can recognise. ``run_checks`` runs the learner's function or class on
every case and stops at the first that disagrees, printing what a teacher would say: which case,
what was expected and what came back (shape, dtype, or where the values differ most), and, if the
returned values are exactly what a known mistake gives, the hint for that mistake.

A placeholder that raises ``NotImplementedError`` means "not answered yet"; any other exception
in the learner's code is shown as one line with the line of their cell, never a traceback, so
Run All carries on. Random inputs come from a fixed seed inside ``torch.random.fork_rng``:
checking an exercise never changes the notebook's own random numbers.
"""

from __future__ import annotations

import copy
import linecache
import re
import sysconfig
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cnnedu.exercises.tries import count_wrong_try

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib",
                                                          "platlib")})


@dataclass(frozen=True)
class Case:
    """One input to try: ``label`` describes it to the learner (shape and settings)."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


class Mismatch(Exception):
    """Raised by a runner when the learner's code is built wrong (e.g. its layers are named
    differently from the reference's): ``message`` says what differs, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class Mistake:
    """A common mistake: ``variant`` computes what code with this mistake returns (same
    signature as the reference); if the learner's result equals it, ``hint`` is shown."""

    hint: str
    variant: Callable | None = None
    detect: Callable[[Case, object, object], bool] | None = None   # (case, expected, got)
    error: str = ""   # a regular expression: the hint also answers an error "Type: message" it matches


def call(candidate: Callable, case: Case) -> object:
    """The default runner: call the candidate with (a copy of) the case's arguments."""
    return candidate(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))


@dataclass
class Exercise:
    """A coding exercise: what to write, how to run it, what it must equal."""

    id: str
    name: str                       # the function or class the learner writes
    reference: Callable             # the course's reference solution (shown by ``solution``)
    against: str                    # what the answer is compared with, in words
    cases: Callable[[], list[Case]]
    explanation: str
    mistakes: Sequence[Mistake] = ()
    more: str = ""                  # a general hint for a second wrong try
    run: Callable[[Callable, Case], object] = call
    truth: Callable | None = None   # computes the expected result (default: the reference)
    output_names: tuple[str, ...] = ()   # names of a tuple result's parts, for the feedback
    atol: float = 1e-5
    rtol: float = 1e-4

    def expected(self, case: Case) -> object:
        return self.run(self.truth or self.reference, case)


def run_checks(exercise: Exercise, candidate: Callable) -> bool:
    """Run ``candidate`` on every case of ``exercise``; print ✅ or what is wrong; return which."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        cases = exercise.cases()
        for number, case in enumerate(cases, start=1):
            expected = exercise.expected(case)
            where = f"case {number} of {len(cases)}: {case.label}"
            try:
                got = exercise.run(candidate, case)
            except NotImplementedError:
                print(f"✏️  {exercise.id} {exercise.name}: not answered yet (it raises "
                      f"NotImplementedError). Write it, then run this cell again; "
                      f"`solution(\"{exercise.id}\")` shows one.")
                return False
            except Mismatch as found:
                return _wrong(exercise, where, found.message, found.hint)
            except Exception as error:  # noqa: BLE001 (any error of the learner's is feedback)
                print(f"💥 {exercise.id} {exercise.name} raised {describe_error(error)}\n"
                      f"   on {where}")
                text = f"{type(error).__name__}: {error}"
                hints = [m.hint for m in exercise.mistakes if m.error and re.search(m.error, text)]
                if hints:
                    print(f"   Hint: {hints[0]}")
                return False
            problem = difference(expected, got, exercise.atol, exercise.rtol,
                                 names=exercise.output_names)
            if problem:
                return _wrong(exercise, where, problem, _mistake_hint(exercise, case, expected, got))
    print(f"✅ {exercise.id} {exercise.name} is correct: it equals {exercise.against} on all "
          f"{len(cases)} cases.")
    return True


def _wrong(exercise: Exercise, where: str, problem: str, hint: str) -> bool:
    tries = count_wrong_try(exercise.id)
    print(f"❌ {exercise.id} {exercise.name} is wrong on {where}\n   {problem}")
    if hint:
        print(f"   Hint: {hint}")
    if tries >= 2 and exercise.more:
        print(f"   More: {exercise.more}")
    if tries >= 3:
        print(f"   Stuck? `solution(\"{exercise.id}\")` shows a reference solution.")
    return False


def _mistake_hint(exercise: Exercise, case: Case, expected: object, got: object) -> str:
    for mistake in exercise.mistakes:
        try:
            if mistake.detect is not None and mistake.detect(case, expected, got):
                return mistake.hint
            if mistake.variant is not None and not difference(
                    exercise.run(mistake.variant, case), got, exercise.atol, exercise.rtol):
                return mistake.hint
        except Exception:  # noqa: BLE001, S112 (a variant that cannot run on this case: skip it)
            continue
    return ""


def difference(expected: object, got: object, atol: float = 1e-5, rtol: float = 1e-4,
               name: str = "output", names: Sequence[str] = ()) -> str:
    """'' if ``got`` equals ``expected``; else one line saying where and how they differ."""
    if isinstance(expected, torch.Tensor):
        return _tensor_difference(expected, got, atol, rtol, name)
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            kind = f"{type(got).__name__} of {len(got)}" if isinstance(got, (tuple, list)) else \
                type(got).__name__
            return f"expected {name} to be a tuple of {len(expected)}, got a {kind}"
        for index, (e, g) in enumerate(zip(expected, got, strict=True)):
            part = names[index] if index < len(names) else f"{name}[{index}]"
            problem = difference(e, g, atol, rtol, part)
            if problem:
                return problem
        return ""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(expected, bool) or isinstance(got, bool):
        same = type(expected) is type(got) and expected == got
    elif isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        same = abs(expected - got) <= atol + rtol * abs(expected)
    else:
        same = expected == got
    label = "" if name == "output" else f"{name} "
    return "" if same else f"expected {label}{expected!r}, got {got!r}"


def _tensor_difference(expected: torch.Tensor, got: object, atol: float, rtol: float,
                       name: str) -> str:
    if not isinstance(got, torch.Tensor):
        return f"expected {name} to be a tensor, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"expected {name} of shape {tuple(expected.shape)}, got shape {tuple(got.shape)}"
    if got.dtype != expected.dtype:
        return f"expected {name} of dtype {expected.dtype}, got {got.dtype}"
    got, expected = got.detach(), expected.detach()
    if torch.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
        return ""
    gap = (got.double() - expected.double()).abs().nan_to_num(nan=float("inf"))
    gap = torch.where(got.isnan() & expected.isnan(), torch.zeros_like(gap), gap)
    flat = int(gap.argmax())
    position = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), expected.shape))
    count = int((~torch.isclose(got, expected, atol=atol, rtol=rtol, equal_nan=True)).sum())
    return (f"{name}{list(position)}: expected {expected.flatten()[flat].item():.4g}, got "
            f"{got.flatten()[flat].item():.4g} (the largest difference; {count} of "
            f"{expected.numel()} values differ)")


def describe_error(error: BaseException) -> str:
    """'TypeError: message (line 7 of your cell: `code`)' for the learner's innermost frame."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if not f.filename.startswith(_PACKAGE_DIR)]
    learner = [f for f in own if not f.filename.startswith(_LIBRARY_DIRS)] or own
    text = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")
    if not learner:
        return text
    frame = learner[-1]
    code = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    place = (f"line {frame.lineno} of your cell" if _is_cell(frame.filename)
             else f"{Path(frame.filename).name}, line {frame.lineno}")
    return f"{text}\n   ({place}: `{code}`)" if code else f"{text}\n   ({place})"


def _is_cell(filename: str) -> bool:
    return "ipykernel_" in filename or filename.startswith("<ipython-input") or \
        filename.startswith("<cell")


__all__ = ["Case", "Exercise", "Mismatch", "Mistake", "call", "run_checks", "describe_error",
           "difference"]
