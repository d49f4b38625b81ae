"""The course in a real JupyterLab in Chromium: lesson 00 runs top to bottom, and the pooling
explorer and the feature-map viewer work on the page.

Only what needs a browser runs here. Lesson 00 is the page a learner meets first (progress bars,
the live plot, the first exercise): it runs whole, with its exercise solved, on the bundled
subset (see conftest.py's ``lab``), and must end with ✅. Every lesson runs once under nbval,
and that run also checks every reference solution inside the lesson (tests/nbval_solved.py);
the widgets are driven here in small notebooks of their own, as in the other browser tests.

A run that raises fails its test within a second of the error output appearing, with the
error's text in the assertion and a screenshot in out/browser/ (see notebook_page.run_all).
README screenshots are made by scripts/make_screenshots.py, not here.
"""

from __future__ import annotations

import pytest
from notebook_page import (
    click_feature_map,
    error_outputs,
    image_src,
    open_notebook,
    run_all,
    set_slider,
    wait_src_change,
    write_code_notebook,
)
from playwright.sync_api import Page
from solved_lessons import verdict_problems


def assert_ran_solved(page: Page, lab, name: str) -> None:
    """No error output, and every exercise of ``name`` ended with ✅ (its reference solution)."""
    assert error_outputs(page) == []
    text = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert name in lab.exercises, f"{name} was not solved by the lab fixture"
    problems = verdict_problems(text, lab.exercises[name])
    assert not problems, f"{name}: {problems}\n{text[-3000:]}"


def test_lesson_00_runs_top_to_bottom_without_errors(page: Page, lab):
    name = "00_start_here.ipynb"
    open_notebook(page, lab, name)
    run_all(page, name=name)
    assert_ran_solved(page, lab, name)
    # tqdm.auto renders its progress bar as an ipywidgets progress widget in JupyterLab
    bars = page.locator(".jp-OutputArea-output .widget-hprogress")
    assert bars.count() >= 2
    assert page.locator(".jp-OutputArea-output img").count() >= 3   # grid, photo, live plot


EXPLORER = ".cnnedu-pooling-explorer"
OUTPUT = 1  # images in the explorer: 0 input, 1 output, 2 second output (compare view)


@pytest.fixture(scope="module")
def pooling_page(module_page: Page, lab):
    """Lesson 01's explorer cell (quick mode's photo size), shared by the tests below."""
    name = write_code_notebook(lab.folder / "pooling_check.ipynb", [
        "from cnnedu.widgets.pooling_explorer import PoolingExplorer",
        "PoolingExplorer(photo_size=256)"])
    open_notebook(module_page, lab, name)
    run_all(module_page, name=name)
    assert error_outputs(module_page) == []
    module_page.locator(EXPLORER).scroll_into_view_if_needed()
    module_page.wait_for_selector(f"{EXPLORER} img", state="visible")
    return module_page


def test_pooling_sliders_change_image_and_formula(pooling_page: Page):
    page = pooling_page
    formula = page.locator(f"{EXPLORER} .cnnedu-formula")
    before_src, before_formula = image_src(page, EXPLORER, OUTPUT), formula.inner_text()
    set_slider(page, EXPLORER, "kernel", 4)
    after_src = wait_src_change(page, EXPLORER, OUTPUT, before_src)
    assert after_src != before_src
    page.wait_for_function("([sel, old]) => document.querySelector(sel).innerText !== old",
                           arg=[f"{EXPLORER} .cnnedu-formula", before_formula])
    assert "4-1" in formula.inner_text()
    before_formula = formula.inner_text()
    set_slider(page, EXPLORER, "stride", 3)
    wait_src_change(page, EXPLORER, OUTPUT, after_src)
    page.wait_for_function("([sel, old]) => document.querySelector(sel).innerText !== old",
                           arg=[f"{EXPLORER} .cnnedu-formula", before_formula])
    assert "/ 3" in formula.inner_text()


def test_illegal_setting_shows_a_friendly_message(pooling_page: Page):
    page = pooling_page
    page.locator(f"{EXPLORER} select").first.select_option(label="Fashion-MNIST: T-shirt/top")
    set_slider(page, EXPLORER, "kernel", 9)
    set_slider(page, EXPLORER, "dilation", 4)
    message = page.locator(f"{EXPLORER} .cnnedu-message")
    message.wait_for(state="visible")
    assert "not allowed" in message.inner_text() and "does not fit" in message.inner_text()
    assert "Traceback" not in page.locator(EXPLORER).inner_text()
    assert error_outputs(page) == []
    set_slider(page, EXPLORER, "dilation", 1)          # legal again: the message goes away
    message.wait_for(state="detached")


def test_switching_max_and_avg_changes_the_image(pooling_page: Page):
    page = pooling_page
    before = image_src(page, EXPLORER, OUTPUT)
    page.locator(f"{EXPLORER} button", has_text="avg").click()
    after = wait_src_change(page, EXPLORER, OUTPUT, before)
    page.locator(f"{EXPLORER} button", has_text="max").click()
    wait_src_change(page, EXPLORER, OUTPUT, after)


def test_feature_map_viewer_switches_layers(page: Page, lab):
    name = write_code_notebook(lab.folder / "viewer_check.ipynb", [   # lesson 02's viewer, on 8 images
        "import torch\nfrom cnnedu.data import CLASS_NAMES, FashionMNIST\n"
        "from cnnedu.models.alexnet import AlexNet\n"
        "from cnnedu.widgets.feature_viewer import FeatureMapViewer\n"
        "torch.manual_seed(0)\ntest = FashionMNIST('test')\n"
        "samples = {f'{i}: {CLASS_NAMES[test[i][1]]}': test[i][0] for i in range(8)}",
        "FeatureMapViewer(AlexNet().eval(), samples)"])
    open_notebook(page, lab, name)
    run_all(page, name=name)
    assert error_outputs(page) == []
    viewer = ".cnnedu-feature-viewer"
    page.locator(viewer).scroll_into_view_if_needed()
    before = image_src(page, viewer, 0)
    page.locator(f"{viewer} select").nth(1).select_option("features.3")
    wait_src_change(page, viewer, 0, before)
    assert "features.3" in page.locator(viewer).inner_text()
    click_feature_map(page, viewer, 3)          # the fourth map: enlarged beside the grid
    assert page.locator(f"{viewer} .cnnedu-window-box").count() == 1
