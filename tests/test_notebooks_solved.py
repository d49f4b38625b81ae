"""Every lesson runs top to bottom on the bundled data subset with its exercises solved.

Each notebook is built from its source (scripts/notebook_src) and run in smoke mode with
CNNEDU_DATA=bundled, as CI does. Every answer cell is marked ``# EXERCISE NN.K``; it is replaced by
the reference solution from ``cnnedu.exercises`` (an import for coding exercises, the value for
the others), so the run also proves that each reference passes its check *inside the lesson*, with
the lesson's own expected values, and that no check cell errors. The same notebooks with the
placeholders are what the committed outputs show (nbval compares their "not answered yet" lines).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
from nbclient import NotebookClient

from cnnedu.exercises import solution_cell

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "scripts" / "notebook_src").glob("[0-9][0-9]_*.py"))
MARKER = re.compile(r"^# EXERCISE (\d\d\.\d+)\s*$", re.M)
VERDICT = re.compile(r"^(✅|❌|💥|✏️)\s+(\d\d\.\d+(?: \([^)]*\))?)", re.M)
# Per cell: a smoke run's longest cell takes well under a minute alone; on a shared, busy machine
# (load 20 on 2 cores) some took over 300 s, so the limit only catches hangs.
CELL_TIMEOUT_S = int(os.environ.get("CNNEDU_CELL_TIMEOUT", "900"))


def _build_module():
    spec = importlib.util.spec_from_file_location("build_notebooks",
                                                  ROOT / "scripts" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solve(notebook) -> list[str]:
    """Replace every answer cell by its reference solution; return the exercise ids."""
    ids = []
    for cell in notebook.cells:
        found = MARKER.search(cell.source) if cell.cell_type == "code" else None
        if found:
            ids.append(found.group(1))
            cell.source = f"# EXERCISE {found.group(1)} (reference solution)\n" + \
                solution_cell(found.group(1))
    return ids


def outputs_text(notebook) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs)


@pytest.mark.notebook
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_lesson_runs_on_the_bundled_subset_with_exercises_solved(source, monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    monkeypatch.setenv("CNNEDU_SMOKE", "1")
    notebook = _build_module().parse(source.read_text())
    ids = solve(notebook)
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    text = outputs_text(notebook)
    assert not [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "error"]
    last = {key: mark for mark, key in VERDICT.findall(text)}    # a check's final verdict
    wrong = {key: mark for key, mark in last.items() if mark != "✅"}
    assert not wrong, f"{source.stem}: {wrong}\n{text[-3000:]}"
    for exercise_id in ids:
        assert any(key.split()[0] == exercise_id for key in last), \
            f"{source.stem}: no verdict for exercise {exercise_id}"
