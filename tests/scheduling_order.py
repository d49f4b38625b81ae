"""The order in which ``./course.sh test`` hands test files to its pytest-xdist workers
(tests/conftest.py installs it). Its own module, not conftest.py: tests/ and tests/browser/
each have a conftest, so ``from conftest import ...`` can find the wrong one."""

from __future__ import annotations

from pathlib import Path

from xdist.scheduler import LoadFileScheduling

# Files handed out before the rest under `--dist loadfile`. pytest-xdist hands out the files with
# the most tests first, so a one-test file comes last; this one spends 40 s asleep (a notebook
# waiting out the grader's time limit) and, last, it was the suite's final 46 s on one worker
# while the others had finished (a timeline of one run). First, it sleeps while the other
# workers keep both cores busy. Matched by the end of xdist's scope (a file's node id), so a
# different rootdir still finds it.
FIRST_FILES = ("tests/test_grade_time_limit.py",)
for _first in FIRST_FILES:                     # a renamed file would silently go last again
    if not (Path(__file__).resolve().parents[1] / _first).is_file():
        raise FileNotFoundError(f"tests/scheduling_order.py FIRST_FILES names a missing file: {_first}")


class FirstFilesFirst(LoadFileScheduling):
    """xdist's loadfile scheduler, with the files of FIRST_FILES moved to the front of its queue
    whenever it hands out a file (also a file put back after a worker crashed)."""

    def _assign_work_unit(self, node) -> None:
        first = [scope for scope in self.workqueue if scope.endswith(FIRST_FILES)]
        if first:
            self.workqueue.move_to_end(first[0], last=False)
        super()._assign_work_unit(node)
