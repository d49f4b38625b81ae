"""Markers by place: every test under tests/browser/ is ``browser``, every nbval notebook cell is
``notebook``, so ``pytest -m "not browser and not notebook"`` is the fast edit-test loop."""

from pathlib import Path

import pytest

BROWSER_DIR = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
        elif path.is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)
