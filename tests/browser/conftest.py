"""Fixtures for browser tests: a real JupyterLab (see lab_server.py) and Debian's Chromium.

``page`` is a fresh page per test; ``module_page`` one page shared by a test module, so a
lesson is run once for all the tests that look at its widgets. A failed test leaves a
screenshot in out/browser/ (git-ignored), and its path is printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_server import CHROMIUM, CHROMIUM_ARGS, Lab
from notebook_page import NotebookRunError, screenshot


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One JupyterLab server for the session, stopped at the end.

    Its lessons have their exercises solved and its kernels read the bundled subset, as
    nbval's do (nbval runs the lessons as committed, placeholders and all, and checks each
    reference solution in the same run: tests/nbval_solved.py).
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    server = Lab(tmp_path_factory.mktemp("lab"), solved=True, data="bundled")
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
    # a NotebookRunError has taken its own screenshot, at the moment the error appeared
    if report.when == "call" and report.failed and not call.excinfo.errisinstance(NotebookRunError):
        shared = item.funcargs.get("module_page") or item.funcargs.get("page")
        if shared is not None and not shared.is_closed():
            shot = screenshot(shared, item.name)
            report.sections.append(("screenshot", f"of the failed page: {shot}"))
    return report


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


@pytest.fixture
def page(browser, lab):
    """A fresh browser page; afterwards every kernel is shut down."""
    context, page = _new_page(browser)
    yield page
    context.close()
    lab.shutdown_kernels()


@pytest.fixture(scope="module")
def module_page(browser, lab):
    """One browser page for a whole test module (open and run a lesson once, test it often)."""
    context, page = _new_page(browser)
    yield page
    context.close()
    lab.shutdown_kernels()
