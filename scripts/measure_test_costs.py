"""Measure what each test file costs, for the order in which pytest-xdist hands files out.

    ./course.sh test --junitxml=/tmp/junit.xml -o junit_family=xunit1
    python scripts/measure_test_costs.py /tmp/junit.xml > tests/file_costs.json

``./course.sh test`` gives whole files to its workers (``--dist loadfile``: a notebook's cells
share one kernel, a module's fixtures are built once). A file handed out last keeps one worker
busy while the others wait, so ``tests/conftest.py`` hands out the costliest files first (the
scheduling rule "longest first"; xdist gives each worker two files at the start, so the order
is only roughly kept). This script turns a JUnit report into that table: seconds per file,
summed over its tests, rounded up to whole seconds. A report in the ``xunit1`` family names each
test's file; otherwise the file is read from the test's class name. Files missing from the table
count as cheap; the order only affects how long the suite takes, never what it checks.
"""

from __future__ import annotations

import json
import math
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

FILE_COSTS = Path(__file__).resolve().parents[1] / "tests" / "file_costs.json"


def file_of(classname: str) -> str:
    """The file a JUnit ``classname`` names: ``tests.browser.test_x`` -> ``tests/browser/test_x.py``,
    ``notebooks.06_scale_out.ipynb`` -> ``notebooks/06_scale_out.ipynb`` (a notebook directly
    in its folder: the class name cannot tell a dot of a name from a folder's), a test class's
    ``tests.test_x.TestY`` -> ``tests/test_x.py``."""
    if classname.endswith(".ipynb"):
        return classname[: -len(".ipynb")].replace(".", "/", 1) + ".ipynb"
    parts = classname.split(".")
    while parts and parts[-1][:1].isupper():           # a test class, not a module
        parts.pop()
    return "/".join(parts) + ".py"


def file_costs(junit_xml: Path) -> dict[str, int]:
    """{file: whole seconds its tests took}, costliest first."""
    seconds: dict[str, float] = defaultdict(float)
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        name = case.get("file") or (case.get("classname") and file_of(case.get("classname")))
        if name:                                        # a collection error names no test
            seconds[name] += float(case.get("time", 0))
    return {name: math.ceil(s) for name, s in sorted(seconds.items(), key=lambda kv: -kv[1])}


def costliest_files_first(items: list, costs: dict[str, float]) -> list:
    """``items`` (pytest items: anything with a ``nodeid``) grouped by file, files in falling
    order of ``costs`` (seconds per file path as in the node id; a file missing from it costs
    0), each file's items in their own order, ties in the order the files were collected."""
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    order = sorted(files, key=lambda name: -costs.get(name, 0))      # sorted() is stable
    return [item for name in order for item in files[name]]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(json.dumps(file_costs(Path(sys.argv[1])), indent=1))
