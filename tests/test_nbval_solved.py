"""nbval's run of a lesson checks every reference solution in the same kernel (nbval_solved.py):
shown on two small notebooks in a pytest run of their own, one whose check the reference passes
and one whose check expects a wrong value, so the solved cell must fail there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnnedu.layer_table import count_params
from cnnedu.models.resnet import BasicBlock

TESTS = Path(__file__).resolve().parent
CONFTEST = f"""\
import sys
sys.path[:0] = [{str(TESTS)!r}, {str(TESTS / "browser")!r}]
from nbval_solved import pytest_collection_modifyitems, pytest_runtest_setup  # noqa: F401
"""


# The data the kernel reads, and its model store: empty at the start (a mark left in it shows
# whether the other notebook's kernel got the same one) and not the tester's ~/.cache.
STARTUP = """\
# NBVAL_CHECK_OUTPUT
import os
from pathlib import Path
store = Path(os.environ["CNNEDU_MODEL_STORE"])
own = store.is_dir() and not any(store.iterdir()) and not store.is_relative_to(Path.home())
(store / "mark").touch()
print(f"{os.environ.get('CNNEDU_DATA')}, an empty store of its own: {own}")"""


def lesson(expected: int) -> nbformat.NotebookNode:
    """The kernel's data and model store, an answer cell, its check against ``expected``, and a
    cell that shows the answer again (committed output ``None``: the learner's answer
    restored)."""
    cells = [
        (STARTUP, "bundled, an empty store of its own: True\n"),
        ("# EXERCISE 04.3\nanswer_1 = None   # an int", None),
        (f"from cnnedu.exercises import check\ncheck(answer_1, {expected}, exercise='04.3');",
         None),
        ("# NBVAL_CHECK_OUTPUT\nprint(answer_1)", "None\n"),
    ]
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    for number, (source, text) in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(source, execution_count=number)
        if text is not None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        book.cells.append(cell)
    return book


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("nbval_solved")
    (folder / "conftest.py").write_text(CONFTEST)
    nbformat.write(lesson(count_params(BasicBlock(64, 64))), folder / "right.ipynb")
    nbformat.write(lesson(1), folder / "wrong.ipynb")
    env = {k: v for k, v in os.environ.items()
           if k not in ("CNNEDU_DATA", "CNNEDU_MODEL_STORE")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--nbval-lax", "-rA", "right.ipynb", "wrong.ipynb"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    return done.stdout + done.stderr


def test_the_solved_check_and_the_restore_run_after_the_check_cell(report):
    for name in ("Cell 0", "Cell 1", "Cell 2", "Cell 2 solved 04.3", "Cell 2 restored 04.3",
                 "Cell 3"):
        assert f"PASSED right.ipynb::{name}\n" in report, report


def test_a_reference_that_fails_its_check_fails_the_solved_cell(report):
    assert "FAILED wrong.ipynb::Cell 2 solved 04.3" in report, report
    assert "the reference solution of 04.3 did not pass its check inside the lesson" in report
    assert "❌ 04.3" in report
    # the learner's answer is back after it: the committed "None" is what the next cell prints
    assert "PASSED wrong.ipynb::Cell 3\n" in report
    assert "PASSED wrong.ipynb::Cell 0\n" in report   # the subset, a store of its own
