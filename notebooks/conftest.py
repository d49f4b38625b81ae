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
