"""The attribution explorer in a real JupyterLab in Chromium: the map sits over the image at the
same displayed size, pointing at a pixel shows its value (equal to Captum's, computed here), the
occlusion patch is drawn on the image, and a patch larger than the image is refused with nothing
stale left on screen.

The notebook is the test's own (a random lesson-sized ResNet and two random images, seeded), so
it does not depend on a lesson's training; the same seeds rebuild both here for the expected
values.
"""

from __future__ import annotations

import pytest
import torch
from captum.attr import Occlusion, Saliency
from notebook_page import error_outputs, open_notebook, run_all, set_slider, write_code_notebook
from playwright.sync_api import Page

from cnnedu.models.resnet import resnet_mini

ROOT = ".cnnedu-attribution-explorer"
SETUP = """\
import torch
from cnnedu.data import CLASS_NAMES
from cnnedu.models.resnet import resnet_mini
from cnnedu.widgets.attribution_explorer import AttributionExplorer

torch.manual_seed(0)
model = resnet_mini(depth=8, width=4).eval()
g = torch.Generator().manual_seed(1)
images = {"a": torch.randn(1, 28, 28, generator=g), "b": torch.randn(1, 28, 28, generator=g)}
AttributionExplorer(model, images, CLASS_NAMES)"""


def setup_here():
    torch.manual_seed(0)
    model = resnet_mini(depth=8, width=4).eval()
    g = torch.Generator().manual_seed(1)
    return model, torch.randn(1, 28, 28, generator=g)[None]


def point_at(page: Page, row: int, col: int) -> None:
    stage = page.locator(f"{ROOT} .cnnedu-panel[data-key='map'] .cnnedu-stage")
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()
    page.mouse.move(box["x"] + (col + 0.5) * box["width"] / 28,
                    box["y"] + (row + 0.5) * box["height"] / 28)


def shown_value(page: Page, row: int, col: int) -> float:
    zoom = page.locator(f"{ROOT} .cnnedu-attr-zoom[data-row='{row}'][data-col='{col}']")
    zoom.wait_for(state="attached")
    return float(zoom.get_attribute("data-value"))


def test_attribution_explorer_in_the_browser(page: Page, lab):
    open_notebook(page, lab, write_code_notebook(lab.folder / "attribution_check.ipynb",
                                                 [SETUP]))
    run_all(page, name="attribution")
    page.wait_for_selector(f"{ROOT} .cnnedu-panel[data-key='map'] .cnnedu-stage img",
                           state="visible")
    assert error_outputs(page) == []
    model, x = setup_here()
    predicted = int(model(x).argmax())

    # the map and the image at one displayed size
    boxes = [page.locator(f"{ROOT} .cnnedu-panel[data-key='{k}'] .cnnedu-stage").bounding_box()
             for k in ("input", "map")]
    assert {(round(b["width"]), round(b["height"])) for b in boxes} == {(336, 336)}

    # pointing at a pixel of the saliency map shows Captum's value there
    point_at(page, 12, 15)
    truth = Saliency(model).attribute(x.clone().requires_grad_(), target=predicted)
    assert shown_value(page, 12, 15) == pytest.approx(float(truth[0, 0, 12, 15]), rel=1e-4,
                                                      abs=1e-7)

    # occlusion: the patch at the pointed pixel is drawn on the image
    page.locator(f"{ROOT} .widget-dropdown", has_text="method").locator("select") \
        .select_option("occlusion")
    page.wait_for_function("s => document.querySelector(s).innerText.includes('occlusion for')",
                           arg=f"{ROOT} .cnnedu-panel[data-key='map']")
    # a new occlusion setting is drawn as a labelled preview first; point at the exact map only
    # (the cost line names the method: the saliency map's own line must not pass this wait)
    page.wait_for_function(
        "s => document.querySelector(s).innerText.includes('occlusion map computed in')",
        arg=f"{ROOT} .cnnedu-attr-cost")
    point_at(page, 9, 20)
    truth = Occlusion(model).attribute(x, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
                                       target=predicted)
    assert shown_value(page, 9, 20) == pytest.approx(float(truth[0, 0, 9, 20]), rel=1e-4,
                                                     abs=1e-6)
    frame = page.locator(f"{ROOT} .cnnedu-window-box")
    frame.wait_for(state="attached")
    assert (frame.get_attribute("data-rows"), frame.get_attribute("data-cols")) == \
        ("8..11", "20..23")

    # a patch larger than the image is refused; nothing of the old map stays
    set_slider(page, ROOT, "patch", 29)
    page.locator(f"{ROOT} .cnnedu-message", has_text="patch must be between 1 and the image "
                 "side 28").wait_for(state="visible")
    frame.wait_for(state="detached")
    assert page.locator(f"{ROOT} .cnnedu-panel").count() == 1
    assert page.locator(f"{ROOT} .cnnedu-attr-zoom").count() == 0
    assert page.locator(f"{ROOT} .cnnedu-selected").count() == 0
    set_slider(page, ROOT, "patch", 4)                   # sensible again: the map comes back
    page.locator(f"{ROOT} .cnnedu-message").wait_for(state="detached")
    page.wait_for_selector(f"{ROOT} .cnnedu-panel[data-key='map']")
    assert error_outputs(page) == []
