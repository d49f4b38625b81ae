"""Lessons with their exercises solved, and the check that every exercise says ✅.

Every answer cell of a lesson is marked ``# EXERCISE NN.K``; :func:`solve_notebook_file` replaces
it by the reference solution from ``cnnedu.exercises`` (an import for coding exercises, the value
for the others). Running such a copy top to bottom proves that each reference passes its check
*inside the lesson*, with the lesson's own expected values, and that no check cell errors
(:func:`verdict_problems` reads the verdicts from the run's output text). The browser test runs
these copies (tests/browser/lab_server.py, ``solved=True``); nbval's run of each lesson uses the
same pieces to check every solution in the committed lesson (tests/nbval_solved.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from cnnedu.exercises import solution_cell

MARKER = re.compile(r"^# EXERCISE (\d\d\.\d+)\s*$", re.M)
VERDICT = re.compile(r"^(✅|❌|💥|✏️)\s+(\d\d\.\d+(?: \([^)]*\))?)", re.M)


def solve_cells(cells) -> list[str]:
    """Replace every answer cell among ``cells`` (nbformat cells) in place; return their ids."""
    ids = []
    for cell in cells:
        found = MARKER.search(cell.source) if cell.cell_type == "code" else None
        if found:
            ids.append(found.group(1))
            cell.source = f"# EXERCISE {found.group(1)} (reference solution)\n" + \
                solution_cell(found.group(1))
    return ids


def solve_notebook_file(path: Path) -> list[str]:
    """Solve the notebook at ``path`` in place (outputs cleared); return its exercise ids."""
    notebook = nbformat.read(path, as_version=4)
    ids = solve_cells(notebook.cells)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, path)
    return ids


def verdict_problems(text: str, ids: list[str]) -> list[str]:
    """What is wrong with a solved run's output ``text``: a check whose last verdict is not ✅,
    or an exercise in ``ids`` without any verdict. Empty when every exercise passed."""
    last = {key: mark for mark, key in VERDICT.findall(text)}    # a check's final verdict
    problems = [f"{key}: {mark}" for key, mark in last.items() if mark != "✅"]
    problems += [f"{exercise_id}: no verdict" for exercise_id in ids
                 if not any(key.split()[0] == exercise_id for key in last)]
    return problems
