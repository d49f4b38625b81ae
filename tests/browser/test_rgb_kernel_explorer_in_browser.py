"""The kernel explorer's colour mode in a real JupyterLab in Chromium: pointing at a depthwise
output channel outlines the window on that input channel only and shows its sum (equal to
``F.conv2d(..., groups=3)`` here), the mode control switches to the dense convolution (three
channel sums adding up to ``F.conv2d``), and an illegal setting leaves nothing stale.

The notebook is the test's own (the ``chelsea`` photo at 64×64 and at 6×6); the expected values
come from PyTorch in this test process.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from notebook_page import error_outputs, open_notebook, run_all, set_slider, write_code_notebook
from playwright.sync_api import Page

from cnnedu.images import load_photo
from cnnedu.widgets.kernel_explorer import PRESETS

ROOT = ".cnnedu-rgb-kernel-explorer"
SETUP = """\
from cnnedu.images import load_photo
from cnnedu.widgets.rgb_kernel_explorer import RGBKernelExplorer

RGBKernelExplorer(images={"chelsea": load_photo("chelsea", 64), "tiny": load_photo("chelsea", 6)})"""
KERNELS = torch.stack([PRESETS["Sobel x"], PRESETS["box blur"], PRESETS["Sobel y"]])


def point_at(page: Page, key: str, row: int, col: int, side: int = 64) -> None:
    stage = page.locator(f"{ROOT} .cnnedu-panel[data-key='{key}'] .cnnedu-stage")
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()
    page.mouse.move(box["x"] + (col + 0.5) * box["width"] / side,
                    box["y"] + (row + 0.5) * box["height"] / side)


def zoom_at(page: Page, row: int, col: int, mode: str):
    zoom = page.locator(f"{ROOT} .cnnedu-rgb-zoom[data-mode='{mode}']").filter(
        has=page.locator(f".cnnedu-zoom-where[data-row='{row}'][data-col='{col}']"))
    zoom.wait_for(state="attached")
    return zoom


def shown(zoom) -> float:
    return float(zoom.locator(".cnnedu-zoom-value").get_attribute("data-value"))


def test_rgb_kernel_explorer_in_the_browser(page: Page, lab):
    open_notebook(page, lab, write_code_notebook(lab.folder / "rgb_kernel_check.ipynb",
                                                 [SETUP]))
    run_all(page, name="rgb kernel")
    page.wait_for_selector(f"{ROOT} .cnnedu-panel[data-key='out2'] .cnnedu-stage img",
                           state="visible")
    assert error_outputs(page) == []
    photo = load_photo("chelsea", 64)[None]
    keys = page.locator(f"{ROOT} .cnnedu-panel").evaluate_all("ps => ps.map(p => p.dataset.key)")
    assert keys == ["input", "in0", "in1", "in2", "out0", "out1", "out2"]

    # depthwise: pointing at output channel 2 reads the blue channel alone
    point_at(page, "out2", 10, 20)
    zoom = zoom_at(page, 10, 20, "depthwise")
    truth = F.conv2d(photo, KERNELS[:, None], padding=1, groups=3)[0, 2, 10, 20]
    assert shown(zoom) == pytest.approx(float(truth), abs=1e-6)
    assert "window of input channel 2 (blue)" in zoom.inner_text()
    blue = page.locator(f"{ROOT} .cnnedu-panel[data-key='in2'] .cnnedu-window-box")
    blue.wait_for(state="attached")
    assert (blue.get_attribute("data-rows"), blue.get_attribute("data-cols")) == \
        ("9..11", "19..21")
    for other in ("in0", "in1"):
        assert page.locator(f"{ROOT} .cnnedu-panel[data-key='{other}'] "
                            ".cnnedu-window-box").count() == 0
    assert page.locator(f"{ROOT} .cnnedu-selected").evaluate_all(
        "els => els.map(e => e.closest('.cnnedu-panel').dataset.key)") == ["out2"]

    # the mode control: dense, one output, the three channel sums add up to F.conv2d
    page.locator(f"{ROOT} .widget-toggle-button", has_text="dense").click()
    page.wait_for_selector(f"{ROOT} .cnnedu-panel[data-key='out']")
    point_at(page, "out", 5, 7)
    zoom = zoom_at(page, 5, 7, "dense")
    truth = F.conv2d(photo, KERNELS[None], padding=1)[0, 0, 5, 7]
    sums = zoom.locator(".cnnedu-zoom-channel").evaluate_all(
        "ds => ds.map(d => parseFloat(d.dataset.sum))")
    assert len(sums) == 3 and sum(sums) == pytest.approx(float(truth), abs=1e-5)
    assert shown(zoom) == pytest.approx(float(truth), abs=1e-6)
    for key in ("in0", "in1", "in2"):
        page.locator(f"{ROOT} .cnnedu-panel[data-key='{key}'] .cnnedu-window-box").wait_for(
            state="attached")

    # an illegal setting (a dilated 3x3 spans 9 pixels of a 6x6 photo) leaves nothing stale
    page.locator(f"{ROOT} select").first.select_option(label="tiny")
    set_slider(page, ROOT, "padding", 0)
    set_slider(page, ROOT, "dilation", 4)
    page.locator(f"{ROOT} .cnnedu-message").wait_for(state="visible")
    page.wait_for_function("s => document.querySelectorAll(s).length === 1",
                           arg=f"{ROOT} .cnnedu-panel")
    assert page.locator(f"{ROOT} .cnnedu-window-box").count() == 0
    assert page.locator(f"{ROOT} .cnnedu-zoom-value").count() == 0
    set_slider(page, ROOT, "dilation", 1)                 # legal again: the output comes back
    page.locator(f"{ROOT} .cnnedu-message").wait_for(state="detached")
    page.wait_for_selector(f"{ROOT} .cnnedu-panel[data-key='out']")
    assert error_outputs(page) == []
