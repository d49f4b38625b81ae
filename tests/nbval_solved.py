"""One execution per lesson: nbval's run also proves that every reference solution passes.

nbval runs each lesson as committed, placeholders and all, and compares the outputs marked
``# NBVAL_CHECK_OUTPUT`` (so the check cells must still print "not answered yet"). Right after
each exercise's check cell, :func:`add_solved_checks` inserts two more cells into the same
kernel, in the same run:

* the reference solution (``cnnedu.exercises.solution_cell``, as the solved copies get it)
  followed by the check cell again: its verdict must be ✅, read from the output as a learner
  reads it (:func:`solved_lessons.verdict_problems`); any ❌, 💥 or missing verdict fails it;
* the learner's answer cell again, so the rest of the lesson runs as committed (the checked
  outputs after it stay the unsolved ones).

Before this, each lesson ran once more in the browser only to insert the solutions.

The lessons' kernels read the bundled subset (``CNNEDU_DATA=bundled`` unless already set): the
path every learner has. Each kernel also gets an empty model store of its own
(``CNNEDU_MODEL_STORE``, unless already set), so lesson 07 trains its model under nbval whether
or not lesson 04 ran before it, and no test writes into ``~/.cache``
(:func:`learner_settings_for_notebooks`).
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import IPyNbCell, NbCellError
from solved_lessons import MARKER, verdict_problems

from cnnedu.exercises import solution_cell


class SolvedCheckCell(IPyNbCell):
    """The reference solution of ``exercise`` and its check cell, run in the lesson's kernel;
    fails unless every verdict of that exercise is ✅."""

    exercise: str = ""

    def runtest(self) -> None:
        super().runtest()
        text = "".join(out.get("text", "") for out in self.test_outputs or []
                       if out.get("output_type") == "stream")
        problems = verdict_problems(text, [self.exercise])
        if problems:
            raise NbCellError(self.cell_num, f"the reference solution of {self.exercise} did "
                              f"not pass its check inside the lesson: {problems}\n{text}",
                              self.cell.source)


def _extra_cell(item: IPyNbCell, label: str, source: str, kind: type = IPyNbCell):
    """A cell run right after ``item`` in its kernel, its outputs not compared."""
    return kind.from_parent(item.parent, name=f"{item.name} {label}", cell_num=item.cell_num,
                            cell=nbformat.v4.new_code_cell(source),
                            options=defaultdict(bool, check=False))


def add_solved_checks(items: list) -> list:
    """``items`` with the solved check and the restore cell after every exercise's check cell
    (the code cell after its answer cell); every other item unchanged and in order."""
    result, pending = [], None                     # pending: (exercise id, answer cell item)
    for item in items:
        result.append(item)
        if not isinstance(item, IPyNbCell) or isinstance(item, SolvedCheckCell):
            continue
        if pending is not None and pending[1].parent is item.parent:
            exercise, answer = pending
            solved = _extra_cell(item, f"solved {exercise}",
                                 solution_cell(exercise) + "\n" + item.cell.source,
                                 SolvedCheckCell)
            solved.exercise = exercise
            result += [solved, _extra_cell(item, f"restored {exercise}", answer.cell.source)]
        found = MARKER.search(item.cell.source)
        pending = (found.group(1), item) if found else None
    return result


_STORES = tempfile.TemporaryDirectory(prefix="cnnedu-model-stores-")   # removed at exit


@contextmanager
def learner_settings_for_notebooks(item: pytest.Item) -> Iterator[None]:
    """While a notebook's kernel starts (its first cell's setup): ``CNNEDU_DATA=bundled`` and
    ``CNNEDU_MODEL_STORE`` the notebook's own folder, empty until its kernel writes there, each
    unless already set."""
    if not isinstance(item, IPyNbCell):
        yield
        return
    store = Path(_STORES.name) / Path(item.path).stem     # one per notebook, not one per cell
    store.mkdir(exist_ok=True)
    settings = {"CNNEDU_DATA": "bundled", "CNNEDU_MODEL_STORE": str(store)}
    added = [name for name in settings if name not in os.environ]
    os.environ.update({name: settings[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            del os.environ[name]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The hook notebooks/conftest.py takes over: solved checks added, notebook cells marked."""
    items[:] = add_solved_checks(items)
    for item in items:
        if isinstance(item, IPyNbCell):
            item.add_marker(pytest.mark.notebook)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """The hook notebooks/conftest.py takes over: lessons' kernels start on the bundled data,
    each with an empty model store."""
    with learner_settings_for_notebooks(item):
        return (yield)
