"""Every lesson's answer cells have a reference solution that the solved runs can insert.

The solved runs themselves: nbval's run of every lesson checks each reference solution inside
the lesson, right after its check cell (tests/nbval_solved.py, tested by test_nbval_solved.py),
and the browser runs its lessons with the solutions inserted (tests/browser/solved_lessons.py).
What stays here is the fast part: the solutions exist and parse.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from solved_lessons import MARKER, VERDICT, solve_cells, verdict_problems  # noqa: E402

SOURCES = sorted((ROOT / "scripts" / "notebook_src").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_every_answer_cell_gets_a_solution_that_parses(source):
    class Cell:
        cell_type = "code"

        def __init__(self, text):
            self.source = text

    cells = [Cell(part) for part in source.read_text().split("# %%")]
    ids = solve_cells(cells)
    assert ids == MARKER.findall(source.read_text())
    for cell in cells:
        if "(reference solution)" in cell.source:
            ast.parse(cell.source)
    assert not any(MARKER.search(cell.source) for cell in cells)    # none left unsolved


def test_verdicts_are_read_as_a_learner_reads_them():
    ran = ("✏️  01.1 not answered yet\n✅ 01.1 correct: 56\n❌ 01.2 count_windows is wrong\n"
           "✅ 01.4 (max) correct\n💥 01.4 (average) raised ValueError\n")
    assert verdict_problems(ran, ["01.1", "01.2", "01.3", "01.4"]) == [
        "01.2: ❌", "01.4 (average): 💥", "01.3: no verdict"]
    assert verdict_problems("✅ 00.1 relu is correct\n", ["00.1"]) == []
    assert VERDICT.findall("✅ 02.3 (b) ok") == [("✅", "02.3 (b)")]
