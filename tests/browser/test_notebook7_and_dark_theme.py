"""Lesson 01's pooling explorer in Jupyter Notebook 7 (not JupyterLab): hovering an output pixel
shows its window, a slider changes the output; then the same page in the dark theme, where the
explorer's labels, notes and zoom table must keep a readable contrast (WCAG's 4.5:1 for text).
Screenshots of both themes go to out/browser/."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request

import pytest
from lab_server import _free_port
from notebook_page import CONTRAST, menu, screenshot, set_slider, write_code_notebook
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cnnedu.jupyter_ws import SERVER_FLAG

POOL = ".cnnedu-pooling-explorer"
# lesson 01's explorer cell, on the full-size photo
CELLS = ["from cnnedu.widgets.pooling_explorer import PoolingExplorer",
         "explorer = PoolingExplorer(photo_size=512)\nexplorer"]


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    base = tmp_path_factory.mktemp("nb7")
    folder, settings = base / "notebooks", base / "settings"
    folder.mkdir()
    write_code_notebook(folder / "explorer.ipynb", CELLS)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, CNNEDU_QUICK="1", JUPYTER_CONFIG_DIR=str(base / "config"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"))
    log = open(base / "notebook.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "notebook", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         "--ServerApp.allow_root=True", f"--ServerApp.root_dir={folder}",
         f"--JupyterNotebookApp.user_settings_dir={settings}", SERVER_FLAG],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, \
                (base / "notebook.log").read_text()[-2000:]
            time.sleep(0.5)
    yield url, token, settings
    process.terminate()
    process.wait(timeout=30)
    log.close()


def _open_and_run(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/notebooks/explorer.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    for attempt in range(3):          # Run All before the kernel is up can be lost: run again
        menu(page, "Run", "Run All Cells")
        try:                          # taken: a prompt shows [*] (queued) or a count at once
            page.wait_for_function("() => [...document.querySelectorAll('.jp-InputPrompt')]"
                                   ".some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))",
                                   timeout=15_000)
        except PlaywrightTimeout:
            screenshot(page, f"notebook7_run_all_lost_{attempt}")
            continue
        page.wait_for_selector(f"{POOL} .cnnedu-stage img", state="visible", timeout=120_000)
        return
    raise AssertionError("Run All was lost three times (screenshots in out/browser/)")


def _pixel_box(page: Page, panel: str, row: int, col: int) -> tuple[float, float]:
    stage = page.locator(f"{POOL} .cnnedu-panel[data-key='{panel}'] .cnnedu-stage")
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()
    height, width = stage.evaluate("s => [s.querySelector('img').naturalHeight,"
                                   " s.querySelector('img').naturalWidth]")
    return (box["x"] + (col + 0.5) * box["width"] / width,
            box["y"] + (row + 0.5) * box["height"] / height)


TEXT = (f"{POOL} .cnnedu-panel-label, {POOL} .cnnedu-note, {POOL} .cnnedu-zoom td, "
        f"{POOL} .cnnedu-zoom th, {POOL} .cnnedu-zoom div, {POOL} .widget-label, "
        f"{POOL} .cnnedu-formula")


@pytest.mark.slow
def test_explorer_in_notebook7_then_readable_in_the_dark_theme(notebook7, browser):
    url, token, _ = notebook7
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    _open_and_run(page, url, token)
    # a slider changes the output: kernel 2, stride 2 halves the 512x512 photo
    set_slider(page, POOL, "kernel", 2)
    set_slider(page, POOL, "stride", 2)
    page.wait_for_function("(sel) => document.querySelector(sel).innerText.includes('256×256')",
                           arg=f"{POOL} .cnnedu-panel[data-key='max'] .cnnedu-panel-label")
    # hovering output pixel (40, 60) shows its 2x2 window on the input, at a visible size
    page.mouse.move(*_pixel_box(page, "max", 40, 60))
    frame = page.locator(f"{POOL} .cnnedu-window-box")
    frame.wait_for(state="attached")
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.rows === '80..81'",
                           arg=f"{POOL} .cnnedu-window-box")
    assert frame.get_attribute("data-cols") == "120..121"
    box = frame.bounding_box()
    assert box["width"] >= 14 and box["height"] >= 14          # not a one-pixel dot
    light = page.evaluate(CONTRAST, TEXT)
    screenshot(page, "notebook7_explorer_light")
    try:                                       # Settings > Theme > JupyterLab Dark, as a learner
        page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile("^Settings$")).click()
        page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile("^Theme$")).click()
        page.locator(".lm-Menu-itemLabel").filter(
            has_text=re.compile("^JupyterLab Dark$")).click()
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        set_slider(page, POOL, "kernel", 40)                   # a note appears, as text
        page.locator(f"{POOL} .cnnedu-note").first.wait_for(state="visible")
        page.wait_for_function(                                # kernel 9 (its maximum), stride 2
            "(sel) => document.querySelector(sel).innerText.includes('252×252')",
            arg=f"{POOL} .cnnedu-panel[data-key='max'] .cnnedu-panel-label")
        page.mouse.move(*_pixel_box(page, "max", 10, 10))
        page.wait_for_function("(sel) => document.querySelector(sel).dataset.rows === '20..28'",
                               arg=f"{POOL} .cnnedu-window-box")
        dark = page.evaluate(CONTRAST, TEXT)
    finally:
        shot = screenshot(page, "notebook7_explorer_dark")
        context.close()
    assert len(light) >= 5 and len(dark) >= 5, (light, dark)
    low = [(text, round(ratio, 2)) for text, ratio in light + dark if ratio < 4.5]
    assert not low, f"text below 4.5:1 contrast (screenshot {shot}): {low}"
