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
from scheduling_order import FirstFilesFirst

if os.environ.get("PYTEST_XDIST_WORKER") and not (os.environ.get("OMP_NUM_THREADS")
                                                  or os.environ.get("CNNEDU_THREADS")):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

BROWSER_DIR = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(optionalhook=True)          # unknown to pytest when xdist is off (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """FirstFilesFirst under ``--dist loadfile`` (``./course.sh test``); else xdist's choice."""
    if config.getoption("dist", None) != "loadfile":
        return None
    return FirstFilesFirst(config, log)
