"""The website builder's widget outputs (scripts/build_site.py), on a hand-made notebook: each
course explorer with a screenshot shows it (copied next to the page) with the kernel note and
the mode the screenshot was taken in, one
without a screenshot shows the note only, and a progress bar shows its final text. The
screenshot names follow the rule ``<lesson>-<kind>-<count>.png``, counted per kind."""

from __future__ import annotations

import nbformat
import pytest
from bs4 import BeautifulSoup
from build_site import RUN_KEY, STATE, WIDGET, build, explorers
from PIL import Image, PngImagePlugin


def _widget_output(model_id: str) -> dict:
    return nbformat.v4.new_output("display_data", data={
        WIDGET: {"model_id": model_id, "version_major": 2, "version_minor": 0},
        "text/plain": "VBox(...)"})


def _lesson() -> nbformat.NotebookNode:
    """Two kernel explorers, a feature viewer and a tqdm bar, with their stored state."""
    state = {
        "k1": {"model_name": "VBoxModel", "state": {"_dom_classes": ["cnnedu-kernel-explorer"]}},
        "k2": {"model_name": "VBoxModel", "state": {"_dom_classes": ["cnnedu-kernel-explorer"]}},
        "f1": {"model_name": "VBoxModel", "state": {"_dom_classes": ["cnnedu-feature-viewer"]}},
        "bar": {"model_name": "HBoxModel", "state": {"_dom_classes": [],
                                                     "children": ["IPY_MODEL_p", "IPY_MODEL_t"]}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": 3}},
        "t": {"model_name": "HTMLModel", "state": {"value": "3/3 [00:01&lt;00:00]"}},
    }
    cells = [nbformat.v4.new_markdown_cell("# 09 · Test lesson")]
    for model_id in ("k1", "bar", "f1", "k2"):
        cell = nbformat.v4.new_code_cell("x")
        cell.outputs = [_widget_output(model_id)]
        cells.append(cell)
    book = nbformat.v4.new_notebook(cells=cells)
    book.metadata["widgets"] = {STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return book


def test_screenshot_names_count_each_kind_in_page_order():
    book = _lesson()
    book.metadata["cnnedu_stem"] = "09_test"
    assert [(kind, name) for _, kind, name in explorers(book)] == [
        ("kernel-explorer", "09_test-kernel-explorer-1.png"),
        ("feature-viewer", "09_test-feature-viewer-1.png"),
        ("kernel-explorer", "09_test-kernel-explorer-2.png")]


@pytest.mark.slow
def test_pages_show_screenshots_or_notes(tmp_path):
    lessons, shots, out = tmp_path / "nb", tmp_path / "shots", tmp_path / "site"
    lessons.mkdir()
    shots.mkdir()
    nbformat.write(_lesson(), lessons / "09_test.ipynb")
    quick = PngImagePlugin.PngInfo()
    quick.add_text(RUN_KEY, "quick")                 # as scripts/widget_screenshots.py marks it
    Image.new("RGB", (40, 20), "red").save(shots / "09_test-kernel-explorer-1.png", pnginfo=quick)
    Image.new("RGB", (40, 20), "red").save(shots / "09_test-feature-viewer-1.png")
    # no picture for the second kernel explorer
    build(out, lessons, shots)
    page = BeautifulSoup((out / "09_test.html").read_text(), "html.parser")
    figures = page.select(".jp-OutputArea .cnnedu-widget-shot")
    assert [f.img["src"] for f in figures] == [
        "widgets/09_test-kernel-explorer-1.png", "widgets/09_test-feature-viewer-1.png"]
    assert all("needs a running kernel" in f.figcaption.get_text() for f in figures)
    assert (out / "widgets" / "09_test-kernel-explorer-1.png").read_bytes() == \
        (shots / "09_test-kernel-explorer-1.png").read_bytes()
    notes = [n.get_text() for n in page.select(".jp-OutputArea .cnnedu-widget-note")]
    assert len(notes) == 4                        # two captions, the bar, the unpictured one
    assert "progress bar: 3/3 [00:01<00:00]" in notes[1], notes
    assert ["screenshot of the" in n for n in notes] == [True, False, True, False]
    assert "kernel explorer" in notes[0] and "feature viewer" in notes[2]
    assert "(kernel explorer)" in notes[3]
    assert "quick-mode run" in notes[0] and "quick-mode" not in notes[2]   # the mode, if known
    assert WIDGET not in str(page) and STATE not in str(page)     # no widget left to load
