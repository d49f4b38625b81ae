"""The exercise machinery: ``check`` (values), ``check_code`` (functions and modules), solutions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnedu.exercises import EXERCISES, Numeric, check, check_code, solution, solution_cell
from cnnedu.exercises.functions import describe_error, difference

SOURCES = Path(__file__).resolve().parents[1] / "scripts" / "notebook_src"


def test_check_says_correct_wrong_or_unanswered(capsys):
    assert check(14, 14, "hint") is True
    assert "✅" in capsys.readouterr().out
    assert check(13, 14, "use the formula") is False
    out = capsys.readouterr().out
    assert "❌" in out and "use the formula" in out
    assert check(None, 14, "h") is False and "not answered" in capsys.readouterr().out
    assert check(..., 14, "h") is False
    assert check((2, 3), [2, 3], "h") and check(0.1 + 0.2, 0.3, "h")
    assert not check((2, 3), (2, 4), "h") and not check(True, 1, "h")


@pytest.mark.parametrize("answer", [56, 56.0, torch.tensor(56), torch.tensor([56.0])[0],
                                    np.int64(56), np.float32(56.0), np.array(56)])
def test_check_accepts_a_right_number_in_any_form(answer, capsys):
    assert check(answer, 56, "h") is True
    assert "✅" in capsys.readouterr().out


def test_check_accepts_nested_lists_as_tensors_or_arrays():
    expected = [[5.0, 8.0], [9.0, 7.0]]
    assert check(torch.tensor([[5, 8], [9, 7]]), expected, "h")
    assert check(np.array([[5, 8], [9, 7]]), expected, "h")
    assert not check(torch.tensor([[5, 8], [7, 9]]), expected, "h")


@pytest.mark.parametrize("answer", ["bcd", "cbd", "DCB", "b, c, d", ["b", "c", "d"], ("d", "b", "c")])
def test_unordered_answers_accept_any_order(answer):
    assert check(answer, "bcd", "h", unordered=True)


@pytest.mark.parametrize("answer", ["bc", "bcda", "bdd", "abc"])
def test_unordered_answers_still_need_the_right_items(answer):
    assert not check(answer, "bcd", "h", unordered=True)


def test_order_matters_unless_said_otherwise():
    assert not check("cbd", "bcd", "h")
    assert check([3, 1, 2], [1, 2, 3], "h", unordered=True)


def test_hints_only_after_a_wrong_try_and_one_more_per_try(capsys):
    hints = ["first hint", "second hint"]
    check(None, 7, hints, exercise="99.1")
    assert "first hint" not in capsys.readouterr().out        # not before any try
    check(6, 7, hints, exercise="99.1")
    out = capsys.readouterr().out
    assert "first hint" in out and "second hint" not in out
    check(5, 7, hints, exercise="99.1")
    out = capsys.readouterr().out
    assert "first hint" in out and "second hint" in out
    check(7, 7, hints, exercise="99.1")
    assert "hint" not in capsys.readouterr().out


def test_no_numeric_hint_contains_its_answer():
    """A hint must not give the answer away: no lesson's hint contains the expected value."""
    pattern = re.compile(r'exercise="(\d\d\.\d)[^"]*",[^\n]*\n?\s*hint=(\[[^\]]*\]|"[^"]*")')
    found = 0
    for source in SOURCES.glob("*.py"):
        for exercise_id, hints in pattern.findall(source.read_text()):
            numeric = EXERCISES[exercise_id]
            assert isinstance(numeric, Numeric)
            for value in re.findall(r"=\s*(\S+)", numeric.answer):
                assert value.strip('"') not in hints, (exercise_id, hints)
            found += 1
    assert found >= 10                   # every lesson's answer-a-number checks were read


def test_unanswered_exercise_says_so_and_returns_false(capsys):
    def max_pool2d(x, kernel_size, stride, padding=0):
        raise NotImplementedError("your code here")

    assert check_code("01.3", max_pool2d) is False
    out = capsys.readouterr().out
    assert "not answered yet" in out and "Traceback" not in out


def test_an_error_in_the_learners_code_is_one_short_message_with_its_line(capsys):
    def count_windows(size, kernel_size, stride, padding=0, dilation=1):
        return size.shape[0]                     # ints have no .shape

    assert check_code("01.2", count_windows) is False
    out = capsys.readouterr().out
    assert "💥" in out and "AttributeError" in out and "Traceback" not in out
    assert "return size.shape[0]" in out and "case 1 of" in out


def test_a_cell_of_ipykernel_is_named_as_such():
    source = "def f(x):\n    y = 1\n    return x / 0\n"
    namespace: dict = {}
    exec(compile(source, "/tmp/ipykernel_123/456789.py", "exec"), namespace)
    try:
        namespace["f"](torch.tensor(1))
        namespace["f"](1)
    except ZeroDivisionError as error:
        message = describe_error(error)
    assert message.startswith("ZeroDivisionError")
    assert "line 3 of your cell" in message


def test_checking_does_not_change_the_notebooks_random_numbers():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check_code("01.3", EXERCISES["01.3"].reference)
    assert torch.equal(torch.rand(3), expected)


def test_difference_names_shape_dtype_and_largest_difference():
    a = torch.zeros(2, 3)
    assert difference(a, torch.zeros(2, 3)) == ""
    assert "shape (2, 3)" in difference(a, torch.zeros(3, 2))
    assert "dtype" in difference(a, torch.zeros(2, 3, dtype=torch.float64))
    b = a.clone()
    b[1, 2] = 4.0
    message = difference(a, b)
    assert "[1, 2]" in message and "expected 0" in message and "got 4" in message
    assert "1 of 6 values differ" in message
    assert "tensor" in difference(a, [[0.0] * 3] * 2)


CODING = sorted(k for k, v in EXERCISES.items() if not isinstance(v, Numeric))


@pytest.mark.parametrize("exercise_id", CODING)
def test_every_reference_solution_passes(exercise_id, capsys):
    assert check_code(exercise_id, EXERCISES[exercise_id].reference) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_exercise_has_a_solution_to_show(exercise_id, capsys):
    solution(exercise_id)
    out = capsys.readouterr().out
    assert f"Exercise {exercise_id}" in out
    assert solution_cell(exercise_id) and len(out) > 100


def test_an_unknown_exercise_is_a_clear_error():
    with pytest.raises(ValueError, match="no exercise '9.9'; known: 00.1"):
        solution("9.9")


def test_every_exercise_is_in_its_lesson_once_and_every_marker_is_known():
    for source in sorted(SOURCES.glob("[0-9][0-9]_*.py")):
        markers = re.findall(r"^# EXERCISE (\S+)\s*$", source.read_text(), flags=re.M)
        assert len(markers) == len(set(markers)), source.name
        assert set(markers) <= set(EXERCISES), source.name
        lesson = source.name[:2]
        registered = {k for k in EXERCISES if k.startswith(lesson + ".")}
        assert registered == set(markers), (source.name, registered ^ set(markers))
        check_calls = re.findall(r'(?:check_code\("|exercise=")(\d\d\.\d+)', source.read_text())
        assert set(check_calls) == registered, source.name


def _exercise_cells():
    """(lesson file, exercise id, cell source) of every coding exercise's placeholder cell."""
    for source in sorted(SOURCES.glob("[0-9][0-9]_*.py")):
        for cell in re.split(r"^# %%.*$", source.read_text(), flags=re.M):
            found = re.match(r"\s*# EXERCISE (\S+)\s*\n", cell)
            if found and not isinstance(EXERCISES[found.group(1)], Numeric):
                yield source.name, found.group(1), cell


PLACEHOLDERS = list(_exercise_cells())


@pytest.mark.parametrize(("lesson", "exercise_id", "cell"), PLACEHOLDERS,
                         ids=[e for _, e, _ in PLACEHOLDERS])
def test_every_placeholder_says_not_answered_yet(lesson, exercise_id, cell, capsys):
    """What Run All shows before the learner writes anything: no error, "not answered yet"."""
    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    exec(cell, namespace)                                   # defines the placeholder
    answer = namespace[EXERCISES[exercise_id].name]
    assert check_code(exercise_id, answer) is False
    out = capsys.readouterr().out
    assert out.startswith(f"✏️  {exercise_id}") and "not answered yet" in out, (lesson, out)
    assert len(out.splitlines()) == 1


def test_every_lesson_has_two_coding_exercises():
    for lesson in ("01", "02", "03", "04", "05", "08"):  # 00 has a warm-up, 06 one exercise
        assert sum(e.startswith(lesson + ".") for _, e, _ in PLACEHOLDERS) >= 2, lesson


def test_a_reference_is_checked_against_the_truth_not_against_itself(capsys):
    """An exercise whose reference is wrong (x + 1) but whose truth is right (relu) must fail:
    otherwise every 'reference passes' test would compare a reference with itself."""
    from cnnedu.exercises.functions import Case, Exercise
    from cnnedu.exercises.functions import run_checks as check_exercise

    wrong = Exercise(id="t.1", name="relu", reference=lambda x: x + 1, truth=torch.relu,
                     against="torch.relu", explanation="",
                     cases=lambda: [Case("x of shape (4,)", (torch.tensor([-1.0, 0, 1, 2]),))])
    assert not check_exercise(wrong, wrong.reference)
    assert "wrong" in capsys.readouterr().out
    assert check_exercise(wrong, torch.relu)
