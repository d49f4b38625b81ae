"""Drive a notebook in JupyterLab: open it, run every cell, wait for the kernel, read outputs.

Waits are on concrete page states (a kernel status attribute, execution counts, an element's
attribute changing), never fixed sleeps.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page

CODE_PROMPTS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt"


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


def run_all(page: Page, timeout_ms: int = 900_000) -> None:
    """Clear every output, Run All Cells, then wait until every code cell has a new count.

    Clearing first matters: a notebook opened from disk shows the stored counts, which would
    look "finished". A new kernel counts from 1, so "finished" is: no cell shows [*], every cell
    shows a number, and the last code cell shows the number of code cells.
    """
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        "(sel) => [...document.querySelectorAll(sel)].every(p => !/\\d/.test(p.textContent))",
        arg=CODE_PROMPTS, timeout=30_000)
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(
        """(selector) => {
            const prompts = [...document.querySelectorAll(selector)].map(p => p.textContent);
            if (prompts.length === 0 || prompts.some(p => p.includes('*'))) return false;
            const numbers = prompts.map(p => parseInt((p.match(/\\[(\\d+)\\]/) || [])[1]));
            return numbers.every(n => Number.isInteger(n)) &&
                   numbers[numbers.length - 1] === prompts.length;
        }""", arg=CODE_PROMPTS, timeout=timeout_ms, polling=500)
    wait_idle(page)


def error_outputs(page: Page) -> list[str]:
    """Texts of outputs that show an exception (ipykernel's error rendering contains these)."""
    texts = page.locator(".jp-OutputArea-output").all_inner_texts()
    return [t[:500] for t in texts if "Traceback" in t or "Error displaying widget" in t]
