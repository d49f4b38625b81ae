"""The order in which ``./course.sh test`` hands files to its workers: costliest first
(tests/conftest.py), from the table scripts/measure_test_costs.py measures."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from measure_test_costs import FILE_COSTS, costliest_files_first, file_costs, file_of

ROOT = Path(__file__).resolve().parents[1]


def _items(*nodeids: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def test_files_are_ordered_by_cost_and_keep_their_items_together_and_in_order():
    items = _items("tests/test_a.py::one", "tests/test_b.py::one", "tests/test_a.py::two",
                   "notebooks/06_x.ipynb::Cell 0", "tests/test_c.py::one",
                   "notebooks/06_x.ipynb::Cell 1", "tests/test_d.py::one")
    costs = {"tests/test_b.py": 5, "notebooks/06_x.ipynb": 160, "tests/test_a.py": 40}
    ordered = [i.nodeid for i in costliest_files_first(items, costs)]
    assert ordered == ["notebooks/06_x.ipynb::Cell 0", "notebooks/06_x.ipynb::Cell 1",
                       "tests/test_a.py::one", "tests/test_a.py::two", "tests/test_b.py::one",
                       # not in the table: cost 0, in the order they were collected
                       "tests/test_c.py::one", "tests/test_d.py::one"]


@pytest.mark.parametrize(("classname", "path"), [
    ("tests.test_grade", "tests/test_grade.py"),
    ("tests.browser.test_site_in_browser", "tests/browser/test_site_in_browser.py"),
    ("tests.test_pooling.TestShapes", "tests/test_pooling.py"),
    ("notebooks.06_scale_out.ipynb", "notebooks/06_scale_out.ipynb"),
])
def test_junit_classnames_name_their_files(classname, path):
    assert file_of(classname) == path


def test_an_xunit1_report_names_the_file_itself(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="notebooks.sub.x.ipynb" file="notebooks/sub/x.ipynb" '
        'name="Cell 1" time="2.5"/>'
        '<testcase classname="" name="tests/test_broken.py" time="0.1"/>'
        '</testsuite></testsuites>')
    assert file_costs(report) == {"notebooks/sub/x.ipynb": 3}


@pytest.mark.slow
def test_the_course_run_hands_out_files_in_the_tables_order():
    """What ./course.sh test collects starts with the costliest file in the table, and the
    command keeps that order under xdist (``--no-loadscope-reorder``)."""
    assert "--dist loadfile --no-loadscope-reorder" in (ROOT / "course.sh").read_text()
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "notebooks", "tests", "--nbval-lax"], cwd=ROOT, capture_output=True, text=True,
        timeout=300).stdout
    files = list(dict.fromkeys(line.split("::")[0] for line in listed.splitlines()
                               if "::" in line))
    costs = json.loads(FILE_COSTS.read_text())
    expected = sorted(files, key=lambda name: -costs.get(name, 0))
    assert files[:5] == expected[:5] and costs.get(files[0], 0) == max(costs.values())
    assert "notebooks/06_scale_out.ipynb" in files        # the notebooks are in the same order


def test_costs_are_summed_per_file_and_rounded_up(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_a" name="one" time="1.2"/>'
        '<testcase classname="tests.test_a" name="two" time="0.5"/>'
        '<testcase classname="notebooks.01_pooling.ipynb" name="Cell 3" time="30.01"/>'
        '</testsuite></testsuites>')
    assert list(file_costs(report).items()) == [("notebooks/01_pooling.ipynb", 31),
                                               ("tests/test_a.py", 2)]


def test_the_committed_table_names_only_files_that_exist():
    """A renamed or deleted file would silently lose its place in the order: refresh the table
    (scripts/measure_test_costs.py) when this fails."""
    costs = json.loads(FILE_COSTS.read_text())
    assert costs and all(isinstance(s, int) and s >= 0 for s in costs.values())
    assert [name for name in costs if not (ROOT / name).is_file()] == []
