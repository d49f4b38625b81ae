"""Every exercise's check cell works on its own after a kernel restart: run only the answer cell
(filled with the reference solution) and its check cell, in a fresh namespace, and the check
must print its ✅ verdict, with no NameError for something an earlier cell imported."""

import contextlib
import io
import re
from pathlib import Path

import pytest
from build_notebooks import parse

from cnnedu.exercises import solution_cell

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^# EXERCISE (\d\d\.\d+)\s*$", re.M)


def _pairs() -> list[tuple[str, str, str]]:
    pairs = []
    for source in sorted((ROOT / "scripts" / "notebook_src").glob("[0-9][0-9]_*.py")):
        cells = [c.source for c in parse(source.read_text()).cells if c.cell_type == "code"]
        for answer, check in zip(cells, cells[1:], strict=False):
            found = MARKER.search(answer)
            if found:
                pairs.append((found.group(1), solution_cell(found.group(1)), check))
    return pairs


PAIRS = _pairs()


def test_every_answer_cell_is_followed_by_its_check_cell():
    assert len(PAIRS) >= 20
    for exercise_id, _, check in PAIRS:
        assert re.search(rf"check(_code)?\(|exercise=\"{exercise_id}", check), exercise_id


@pytest.mark.parametrize("exercise_id, answer, check", PAIRS, ids=[p[0] for p in PAIRS])
def test_check_cell_runs_alone_after_a_restart(exercise_id, answer, check):
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(answer, f"answer {exercise_id}", "exec"), namespace)
        exec(compile(check, f"check {exercise_id}", "exec"), namespace)
    verdicts = re.findall(r"^(✅|❌|💥|✏️)\s+(\d\d\.\d+)", printed.getvalue(), flags=re.M)
    assert verdicts and all(mark == "✅" and key == exercise_id for mark, key in verdicts), \
        printed.getvalue()
