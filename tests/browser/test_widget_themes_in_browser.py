"""Every explorer and viewer of cnnedu.widgets readable in JupyterLab's dark theme (and its
light one): the pooling explorer, the kernel explorer, the feature-map viewer and the
attribution explorer, each brought to the state that shows its texts (a pointed pixel with its
zoom table, an enlarged map, a note, a refused setting), then every visible text inside it must
keep WCAG's 4.5:1 contrast against its background (notebook_page.CONTRAST, as the Notebook 7
test). A screenshot of each widget goes to out/browser/<theme>_<name>.png
(dark_kernel_explorer.png).

The notebook is the test's own (random seeded models, the course photos at 256×256), so no
lesson's training is needed; JupyterLab starts in the theme from user settings.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lab_server import Lab
from notebook_page import (
    CONTRAST,
    SHOTS,
    click_feature_map,
    error_outputs,
    open_notebook,
    point_at,
    run_all,
    set_slider,
    write_code_notebook,
)
from playwright.sync_api import Page

THEMES = {"dark": "JupyterLab Dark", "light": "JupyterLab Light"}
CELLS = [
    "import torch\nfrom cnnedu.data import CLASS_NAMES\nfrom cnnedu.models.alexnet import AlexNet\n"
    "from cnnedu.models.resnet import resnet_mini\n"
    "from cnnedu.widgets.attribution_explorer import AttributionExplorer\n"
    "from cnnedu.widgets.feature_viewer import FeatureMapViewer\n"
    "from cnnedu.widgets.kernel_explorer import KernelExplorer\n"
    "from cnnedu.widgets.pooling_explorer import PoolingExplorer\n"
    "torch.manual_seed(0)\ng = torch.Generator().manual_seed(1)\n"
    "images = {'a': torch.randn(1, 28, 28, generator=g), 'b': torch.randn(1, 28, 28, generator=g)}",
    "PoolingExplorer(photo_size=256)",
    "KernelExplorer(photo_size=256)",
    "FeatureMapViewer(AlexNet().eval(), images)",
    "AttributionExplorer(resnet_mini(depth=8, width=4).eval(), images, CLASS_NAMES)",
]
# Marks every element inside ``root`` that holds text itself (not only through its children),
# so CONTRAST rates each text in the colour it is drawn in.
MARK = """(root) => { let n = 0;
  for (const e of document.querySelectorAll(root + ' *')) {
    if ([...e.childNodes].some(c => c.nodeType === 3 && c.textContent.trim())) {
      e.dataset.cnneduText = '1'; n++; } }
  return n; }"""


def _pooling(page: Page, root: str) -> None:
    panel = f"{root} .cnnedu-panel[data-key='max'] img"
    before = page.locator(panel).get_attribute("src")
    set_slider(page, root, "kernel", 40)                       # clamped to 9: a note
    page.locator(f"{root} .cnnedu-note").first.wait_for(state="visible")
    page.wait_for_function("([sel, old]) => document.querySelector(sel).getAttribute('src') "
                           "!== old", arg=[panel, before])     # the new output is drawn
    point_at(page, root, "max", 10, 10)
    page.locator(f"{root} .cnnedu-zoom td").first.wait_for(state="visible")


def _kernel(page: Page, root: str) -> None:
    point_at(page, root, "output", 100, 120)
    page.locator(f"{root} .cnnedu-zoom td").first.wait_for(state="visible")


def _features(page: Page, root: str) -> None:
    click_feature_map(page, root, 5)                           # enlarged, with its range


def _attribution(page: Page, root: str) -> None:
    point_at(page, root, "map", 12, 15)
    page.locator(f"{root} .cnnedu-attr-zoom").wait_for(state="attached")


def _attribution_refused(page: Page, root: str) -> None:
    page.locator(f"{root} .widget-dropdown", has_text="method").locator("select") \
        .select_option("occlusion")
    set_slider(page, root, "patch", 29)                        # larger than the 28x28 image
    page.locator(f"{root} .cnnedu-message").wait_for(state="visible")


# name -> (root element, the states in which its texts are rated)
WIDGETS: dict[str, tuple[str, list[Callable[[Page, str], None]]]] = {
    "pooling_explorer": (".cnnedu-pooling-explorer", [_pooling]),
    "kernel_explorer": (".cnnedu-kernel-explorer", [_kernel]),
    "feature_viewer": (".cnnedu-feature-viewer", [_features]),
    "attribution_explorer": (".cnnedu-attribution-explorer", [_attribution, _attribution_refused]),
}


@pytest.fixture(scope="module", params=list(THEMES))
def themed_page(request, tmp_path_factory, browser):
    """(theme, page): the gallery notebook run once in a JupyterLab that starts in that theme."""
    lab = Lab(tmp_path_factory.mktemp(request.param), data="bundled",
              settings={"@jupyterlab/apputils-extension:themes": {"theme": THEMES[request.param]}})
    write_code_notebook(lab.folder / "widgets_dark.ipynb", CELLS)
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_notebook(page, lab, "widgets_dark.ipynb")
        run_all(page, name="widgets_dark")
        yield request.param, page
    finally:
        context.close()
        lab.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(WIDGETS))
def test_widget_text_is_readable_in_each_theme(themed_page, name):
    theme, page = themed_page
    assert page.evaluate("() => document.body.dataset.jpThemeName") == THEMES[theme]
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == str(theme == "light").lower()
    root, states = WIDGETS[name]
    page.locator(root).scroll_into_view_if_needed()
    rated = []
    for state in states:
        state(page, root)
        assert page.evaluate(MARK, root) > 0
        rated += page.evaluate(CONTRAST, f"{root} [data-cnnedu-text]")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{theme}_{name}.png"
    page.locator(root).screenshot(path=str(shot))
    assert error_outputs(page) == []
    assert len(rated) >= 5, rated                              # labels, readouts, notes ...
    low = sorted({(text, round(ratio, 2)) for text, ratio in rated if ratio < 4.5})
    assert not low, f"{name}: text below 4.5:1 contrast in the {theme} theme ({shot}): {low}"
