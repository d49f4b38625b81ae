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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.failed_call = report.failed
    return report


@pytest.fixture
def page(browser, lab, request, tmp_path_factory):
    """A fresh browser page; afterwards every kernel is shut down, and a failed test leaves a
    screenshot (its path is printed) to show what the page looked like."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    if getattr(request.node, "failed_call", False):
        shot = tmp_path_factory.mktemp("failed") / f"{request.node.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")
    context.close()
    lab.shutdown_kernels()
