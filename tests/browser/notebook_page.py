"""Drive a notebook in JupyterLab: open it, run every cell, wait for the kernel, read outputs.

Waits are on concrete page states (a kernel status attribute, execution counts, an element's
attribute changing), never fixed sleeps. A run fails fast: while waiting for Run All to finish,
the first error output (or a dead kernel) ends the wait at once, with the error's text and a
screenshot in ``out/browser/`` (git-ignored).

Shared by every browser test file (the lessons, the explorers): keep page helpers here.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "browser"   # screenshots of failures; never images/ (the photos)
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CODE_PROMPTS = f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt"
ERROR_PATTERN = r"Traceback|Error displaying widget"


def write_code_notebook(path: Path, cells: list[str]) -> str:
    """Write a notebook of code ``cells`` (python3 kernel) to ``path``; return its file name."""
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    nbformat.write(book, path)
    return path.name


class NotebookRunError(AssertionError):
    """A cell raised (or the kernel died) during a run; the message holds the error's text."""


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as out/browser/<name>.png and return its path."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def open_notebook(page: Page, lab, name: str) -> None:
    """Open ``name`` and wait until its kernel is idle."""
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    wait_idle(page)


def wait_idle(page: Page, timeout_ms: int = 600_000) -> None:
    """Wait until the status bar says the kernel is idle (it says Initializing/Busy before)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
        ".some(e => /\\| Idle/.test(e.textContent))", timeout=timeout_ms, polling=250)


def menu(page: Page, top: str, item: str) -> None:
    """Click a main-menu entry, e.g. menu(page, "Run", "Run All Cells"), on the open notebook.

    Menu commands act on the focused widget, so the notebook is focused first (a click in its
    left margin, then Escape for command mode); labels are matched exactly.
    """
    page.locator(".jp-NotebookPanel .jp-Notebook:visible").click(position={"x": 8, "y": 8})
    page.keyboard.press("Escape")
    page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(f"^{top}$")).click()
    entry = page.locator(".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel").filter(
        has_text=re.compile(f"^{re.escape(item)}$"))
    entry.wait_for(state="visible")
    entry.click()


# Resolves to {done: true} once every code cell has its new count, or, as soon as one appears,
# {error: text} for the first error output or a dead kernel; false (keep polling) otherwise.
_RUN_STATE = """([prompts, outputs, pattern]) => {
    const bad = [...document.querySelectorAll(outputs)]
        .find(o => new RegExp(pattern).test(o.textContent));
    if (bad) {
        const cell = bad.closest('.jp-CodeCell');
        const cells = cell ? [...cell.parentElement.querySelectorAll('.jp-CodeCell')] : [];
        return {error: bad.textContent.slice(0, 3000),
                prompt: cell ? `${cells.indexOf(cell) + 1} of ${cells.length}` : ''};
    }
    const status = [...document.querySelectorAll('.jp-StatusBar-TextItem')]
        .map(e => e.textContent).find(t => /\\| (Dead|Unknown)/.test(t));
    if (status) return {error: 'kernel died: ' + status, prompt: ''};
    const texts = [...document.querySelectorAll(prompts)].map(p => p.textContent);
    if (texts.length === 0 || texts.some(p => p.includes('*'))) return false;
    const numbers = texts.map(p => parseInt((p.match(/\\[(\\d+)\\]/) || [])[1]));
    return numbers.every(n => Number.isInteger(n)) && numbers[numbers.length - 1] === texts.length
        ? {done: true} : false;
}"""


def wait_run_finished(page: Page, timeout_ms: int = 900_000, name: str = "run") -> None:
    """Wait for Run All to finish; raise :class:`NotebookRunError` at the first error output.

    The timeout is only the backstop for a cell that never ends: an exception shows an error
    output within a second, and Run All stops there, so waiting on would only waste time.
    """
    state = page.wait_for_function(
        _RUN_STATE, arg=[CODE_PROMPTS, f"{NOTEBOOK} .jp-OutputArea-output", ERROR_PATTERN],
        timeout=timeout_ms, polling=500).json_value()
    if "error" in state:
        bad = page.locator(f"{NOTEBOOK} .jp-OutputArea-output").filter(
            has_text=re.compile(ERROR_PATTERN)).first
        if bad.count():
            bad.scroll_into_view_if_needed(timeout=5_000)
        shot = screenshot(page, f"failed_{name}")
        raise NotebookRunError(f"{name}: code cell {state['prompt']} failed:\n"
                               f"{state['error'].strip()}\n(screenshot: {shot})")


def run_all(page: Page, timeout_ms: int = 900_000, name: str = "run") -> None:
    """Clear every output, Run All Cells, then wait until every code cell has a new count.

    Clearing first matters: a notebook opened from disk shows the stored counts, which would
    look "finished". A new kernel counts from 1, so "finished" is: no cell shows [*], every cell
    shows a number, and the last code cell shows the number of code cells. The first error
    output ends the wait at once (see :func:`wait_run_finished`).
    """
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        "(sel) => [...document.querySelectorAll(sel)].every(p => !/\\d/.test(p.textContent))",
        arg=CODE_PROMPTS, timeout=30_000)
    menu(page, "Run", "Run All Cells")
    wait_run_finished(page, timeout_ms, name)
    wait_idle(page)


def error_outputs(page: Page) -> list[str]:
    """Texts of outputs that show an exception (ipykernel's error rendering contains these)."""
    texts = page.locator(".jp-OutputArea-output").all_inner_texts()
    return [t[:500] for t in texts if re.search(ERROR_PATTERN, t)]


def _slider_readout(page: Page, root: str, label: str):
    slider = page.locator(f"{root} .widget-slider").filter(
        has=page.locator(".widget-label", has_text=label)).first
    return slider.locator(".widget-readout")


def set_slider(page: Page, root: str, label: str, value: int) -> None:
    """Type a value into an ipywidgets slider's readout, as a learner can, once the slider is
    enabled: a slider the kernel has just enabled (the attribution explorer's patch, after
    choosing occlusion) stays disabled in the page until the kernel's reply arrives, and typing
    into its readout before then goes nowhere (a busy CI machine made that wait long). If the
    readout still shows its old value 10 s after Enter, the value is typed once more: one CI
    run lost a typed padding and waited 60 s for a note that never came."""
    readout = _slider_readout(page, root, label)
    expect(readout).to_have_attribute("contenteditable", "true", timeout=60_000)
    before = readout.inner_text().strip()
    if before == str(value):
        return                                      # typing it again would send nothing
    for _attempt in range(2):
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(value))
        page.keyboard.press("Enter")
        try:
            # The page's slider takes a typed value at once, before any kernel reply.
            expect(readout).not_to_have_text(before, timeout=10_000)
            return
        except AssertionError:
            # The keys went nowhere (the readout was redrawn under them on a busy machine),
            # or the kernel clamped the value back to where it was: type once more, and let
            # the caller's own check judge the result.
            continue


def click_feature_map(page: Page, viewer: str, index: int) -> None:
    """Click map ``index`` (0-7) of the first grid row of a feature-map viewer and wait until
    it is the enlarged one (8 maps per row, 2-pixel gaps, as cnnedu.widgets.feature_viewer)."""
    grid = page.locator(f"{viewer} .cnnedu-stage").first.bounding_box()
    pitch = (grid["width"] + 2) / 8
    page.mouse.click(grid["x"] + index * pitch + pitch / 3, grid["y"] + pitch / 3)
    page.wait_for_function(
        "([sel, text]) => document.querySelector(sel).innerText.includes(text)",
        arg=[viewer, f"map {index}:"], timeout=10_000)


def image_src(page: Page, root: str, index: int) -> str:
    """The ``src`` of the ``index``-th image inside ``root``."""
    return page.locator(f"{root} img").nth(index).get_attribute("src")


def wait_src_change(page: Page, root: str, index: int, before: str) -> str:
    """Wait until that image's ``src`` differs from ``before``; return the new one."""
    page.wait_for_function(
        "([sel, i, old]) => { const img = document.querySelectorAll(sel + ' img')[i];"
        " return img && img.getAttribute('src') !== old; }",
        arg=[root, index, before], timeout=30_000)
    return image_src(page, root, index)


def point_at(page: Page, root: str, panel: str, row: int, col: int) -> None:
    """Move the mouse to the centre of output pixel (row, col) of panel ``panel``."""
    stage = page.locator(f"{root} .cnnedu-panel[data-key='{panel}'] .cnnedu-stage")
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()
    height, width = stage.evaluate("s => [s.querySelector('img').naturalHeight,"
                                   " s.querySelector('img').naturalWidth]")
    page.mouse.move(box["x"] + (col + 0.5) * box["width"] / width,
                    box["y"] + (row + 0.5) * box["height"] / height)


# [text, contrast ratio] of each visible element matching a selector that has text: WCAG's
# relative luminance of its colour against the first opaque background up its ancestors.
CONTRAST = """(sel) => {
  const lum = (c) => { const v = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(x => x / 255)
      .map(x => x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
      return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const background = (e) => { for (; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor; const a = c.match(/[\\d.]+/g);
      if (a && (a.length < 4 || Number(a[3]) > 0.5)) return c; }
    return getComputedStyle(document.body).backgroundColor; };
  const out = [];
  for (const e of document.querySelectorAll(sel)) {
    if (!e.innerText.trim() || !e.offsetParent) continue;
    const [a, b] = [lum(getComputedStyle(e).color), lum(background(e))];
    out.push([e.className + ': ' + e.innerText.trim().slice(0, 40),
              (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
  }
  return out; }"""
