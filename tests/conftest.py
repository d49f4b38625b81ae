"""Markers by place: every test under tests/browser/ is ``browser`` (every nbval notebook cell is
``notebook``: notebooks/conftest.py), so ``pytest -m "not browser and not notebook"`` is the fast
edit-test loop.

Under pytest-xdist (``./course.sh test`` runs three workers) each worker, and the kernels and
processes it starts, use one thread unless ``OMP_NUM_THREADS`` or ``CNNEDU_THREADS`` says
otherwise: workers with PyTorch's default of one thread per core would spin against each
other on a 2-core machine."""

import os
from pathlib import Path

import pytest
import torch
from xdist.scheduler import LoadFileScheduling

if os.environ.get("PYTEST_XDIST_WORKER") and not (os.environ.get("OMP_NUM_THREADS")
                                                  or os.environ.get("CNNEDU_THREADS")):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

BROWSER_DIR = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)


# Files handed out before the rest under `--dist loadfile`. pytest-xdist hands out the files with
# the most tests first, so a one-test file comes last; this one spends 40 s asleep (a notebook
# waiting out the grader's time limit) and, last, it was the suite's final 46 s on one worker
# while the others had finished (a timeline of one run). First, it sleeps while the other
# workers keep both cores busy. Matched by the end of xdist's scope (a file's node id), so a
# different rootdir still finds it.
FIRST_FILES = ("tests/test_grade_time_limit.py",)
for _first in FIRST_FILES:                     # a renamed file would silently go last again
    if not (Path(__file__).resolve().parents[1] / _first).is_file():
        raise FileNotFoundError(f"tests/conftest.py FIRST_FILES names a missing file: {_first}")


class FirstFilesFirst(LoadFileScheduling):
    """xdist's loadfile scheduler, with the files of FIRST_FILES moved to the front of its queue
    whenever it hands out a file (also a file put back after a worker crashed)."""

    def _assign_work_unit(self, node) -> None:
        first = [scope for scope in self.workqueue if scope.endswith(FIRST_FILES)]
        if first:
            self.workqueue.move_to_end(first[0], last=False)
        super()._assign_work_unit(node)


@pytest.hookimpl(optionalhook=True)          # unknown to pytest when xdist is off (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """FirstFilesFirst under ``--dist loadfile`` (``./course.sh test``); else xdist's choice."""
    if config.getoption("dist", None) != "loadfile":
        return None
    return FirstFilesFirst(config, log)
