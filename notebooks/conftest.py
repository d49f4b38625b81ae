"""pytest settings for running the lessons under nbval (``./course.sh test``).

nbval sends each cell with ``store_history=False``. IPython decides whether a trailing ``;``
silences a cell's value by reading the cell back from its history, so without history every
``check(...);`` line would also display ``True``/``False``, which JupyterLab (and the stored
full run) never shows, and nbval would report the difference. Run cells as JupyterLab does.
"""

from nbval.kernel import RunningKernel


def _execute_with_history(self, cell_input, allow_stdin=None):
    return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin,
                           stop_on_error=False)


RunningKernel.execute_cell_input = _execute_with_history


# nbval's run of each lesson also runs every exercise's reference solution in the same kernel
# (the code cell after each answer cell is its check), and the kernels read the bundled subset:
# the hooks in tests/nbval_solved.py. Here rather than in tests/ so that a lesson run alone
# (``pytest --nbval-lax notebooks/01_pooling.ipynb``) gets them too.
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

_TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(_TESTS), str(_TESTS / "browser")]   # nbval_solved and solved_lessons

from nbval_solved import pytest_collection_modifyitems, pytest_runtest_setup  # noqa: E402,F401
