"""The suite's own xdist scheduler (tests/scheduling_order.py, installed by tests/conftest.py):
under ``--dist loadfile`` the files of FIRST_FILES go out before the rest, whatever xdist's
queue order, and the rest keep xdist's order. Driven through xdist's real
``_assign_work_unit`` with fake workers, so a change in xdist's internals that the override
relies on fails here instead of silently undoing it."""

from __future__ import annotations

from collections import OrderedDict

from scheduling_order import FIRST_FILES, FirstFilesFirst


class FakeWorker:
    def __init__(self) -> None:
        self.sent: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)


def _scheduler(files: dict[str, int]) -> tuple[FirstFilesFirst, list[str]]:
    """A scheduler whose queue holds ``files`` (name -> number of tests) in that order."""
    scheduler = FirstFilesFirst.__new__(FirstFilesFirst)       # no xdist config needed
    collection = [f"{name}::test_{i}" for name, count in files.items() for i in range(count)]
    scheduler.workqueue = OrderedDict(
        (name, {f"{name}::test_{i}": False for i in range(count)}) for name, count in files.items())
    scheduler.assigned_work, scheduler.registered_collections = {}, {}
    scheduler.collection = collection
    return scheduler, collection


def _hand_out(scheduler: FirstFilesFirst, collection: list[str], workers: int) -> list[str]:
    """Give each of ``workers`` fake workers one file; the files each got, in order."""
    order = []
    for _ in range(workers):
        worker = FakeWorker()
        scheduler.registered_collections[worker] = collection
        scheduler._assign_work_unit(worker)
        order.append(collection[worker.sent[0]].split("::")[0])
    return order


def test_the_first_files_go_out_first_and_the_rest_keep_xdists_order():
    [sleeper] = FIRST_FILES
    files = {"tests/test_many.py": 50, "notebooks/02_alexnet.ipynb": 40,
             "tests/test_some.py": 5, sleeper: 1}              # xdist's order: most tests first
    scheduler, collection = _scheduler(files)
    assert _hand_out(scheduler, collection, 4) == [
        sleeper, "tests/test_many.py", "notebooks/02_alexnet.ipynb", "tests/test_some.py"]
    assert not scheduler.workqueue


def test_the_file_is_found_under_another_rootdir():
    [sleeper] = FIRST_FILES
    moved = f"course/{sleeper}"                               # pytest run from a folder above
    scheduler, collection = _scheduler({"course/tests/test_many.py": 9, moved: 1})
    assert _hand_out(scheduler, collection, 1) == [moved]


def test_without_the_file_in_the_run_the_order_is_xdists():
    files = {"tests/test_many.py": 9, "tests/test_some.py": 3}
    scheduler, collection = _scheduler(files)
    assert _hand_out(scheduler, collection, 2) == list(files)
