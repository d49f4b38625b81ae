"""Markers by place: every test under tests/browser/ is ``browser`` (every nbval notebook cell is
``notebook``: notebooks/conftest.py), so ``pytest -m "not browser and not notebook"`` is the fast
edit-test loop.

Under pytest-xdist (``./course.sh test`` runs three workers) each worker, and the kernels and
processes it starts, use one thread unless ``OMP_NUM_THREADS`` or ``CNNEDU_THREADS`` says
otherwise: workers with PyTorch's default of one thread per core would spin against each
other on a 2-core machine.

Files run costliest first (``tests/file_costs.json``, measured and applied by
``scripts/measure_test_costs.py``; ``./course.sh test`` passes ``--no-loadscope-reorder`` so
pytest-xdist keeps this order instead of its own, which hands out files with many tests first):
a long file that starts last keeps one worker busy while the others wait."""

import json
import os
from pathlib import Path

import pytest
import torch
from measure_test_costs import FILE_COSTS, costliest_files_first  # scripts/ is on the path

if os.environ.get("PYTEST_XDIST_WORKER") and not (os.environ.get("OMP_NUM_THREADS")
                                                  or os.environ.get("CNNEDU_THREADS")):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

BROWSER_DIR = Path(__file__).resolve().parent / "browser"


@pytest.hookimpl(trylast=True)          # after notebooks/conftest.py has added its solved checks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)
    items[:] = costliest_files_first(items, json.loads(FILE_COSTS.read_text()))
