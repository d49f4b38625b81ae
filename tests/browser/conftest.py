"""Fixtures for browser tests: a real JupyterLab (see lab_server.py) and Debian's Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_server import CHROMIUM, CHROMIUM_ARGS, Lab


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One JupyterLab server for the session, stopped at the end."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    server = Lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
