"""The course's website (scripts/build_site.py, ``./course.sh site``) opened in Chromium: every
page loads, shows every stored figure (none broken), shows each explorer or viewer as its
screenshot (loaded, from images/site_widgets/) with a note that it needs a running kernel, says
where any other widget was, and its links between lessons and to the contents work.

Lesson 00 is run first in quick mode into a scratch folder, so the site has real stored
figures and a widget (the progress bar) whatever the tracked notebooks hold."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from build_site import STATE, WIDGET
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    notebooks = tmp_path_factory.mktemp("notebooks")
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy(path, notebooks)
    first = notebooks / "00_start_here.ipynb"
    lesson = nbformat.read(first, as_version=4)
    env = {"CNNEDU_QUICK": "1", "CNNEDU_DATA": "bundled"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(lesson, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(notebooks)}}).execute()
    finally:
        for key, value in old.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    nbformat.write(lesson, first)
    out = tmp_path_factory.mktemp("site")
    # through the script's command line, as `./course.sh site` runs it (here on a copy of the
    # lessons with lesson 00 run again; .ci/run builds the tracked lessons with course.sh)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), str(out),
                           "--notebooks", str(notebooks)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lessons = len(list(notebooks.glob("[0-9][0-9]_*.ipynb")))
    assert done.stdout.startswith(f"{lessons + 1} pages written to {out}"), done.stdout
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", notebooks
    server.shutdown()


def _outputs(notebook, kind: str) -> int:
    return sum(kind in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))


def _interactive(notebook) -> int:
    """Widget outputs that are not a progress bar (tqdm: an HBox holding a FloatProgress)."""
    state = notebook.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    count = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if WIDGET in output.get("data", {}):
                model = state.get(output["data"][WIDGET]["model_id"], {}).get("state", {})
                kids = [state.get(k.removeprefix("IPY_MODEL_"), {}).get("model_name")
                        for k in model.get("children", [])]
                count += "FloatProgressModel" not in kids
    return count


@pytest.mark.slow
def test_every_page_loads_with_its_figures_and_working_links(site, browser):
    base, notebooks = site
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    # offline: only the site itself (nbconvert's MathJax and require.js come from a CDN)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base)
               else route.abort())
    page.goto(f"{base}/index.html")
    lessons = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    contents = page.eval_on_selector_all("li a", "els => els.map(e => e.getAttribute('href'))")
    assert contents == [p.with_suffix(".html").name for p in lessons]
    checked, shown = set(), 0
    for index, path in enumerate(lessons):
        response = page.goto(f"{base}/{path.with_suffix('.html').name}")
        assert response.status == 200
        page.wait_for_load_state("load")
        notebook = nbformat.read(path, as_version=4)
        images = page.eval_on_selector_all(
            ".jp-OutputArea img:not(.cnnedu-widget-shot img)",
            "els => els.map(e => [e.complete, e.naturalWidth])")
        assert len(images) == _outputs(notebook, "image/png"), path.name
        assert all(done and width > 0 for done, width in images), path.name    # none broken
        notes = page.locator(".cnnedu-widget-note").count()
        assert notes == _outputs(notebook, WIDGET), path.name
        # each explorer or viewer: its screenshot, loaded, with the note in its caption
        shots = page.eval_on_selector_all(
            ".jp-OutputArea .cnnedu-widget-shot",
            "els => els.map(f => { const i = f.querySelector('img'); return [i.complete,"
            " i.naturalWidth, i.getAttribute('src'), f.innerText]; })")
        assert len(shots) == _interactive(notebook), \
            f"{path.name}: {len(shots)} widget screenshots for {_interactive(notebook)} " \
            "explorers/viewers (run scripts/widget_screenshots.py)"
        for done, width, src, caption in shots:
            assert done and width > 0, (path.name, src)                  # not a broken image
            assert "needs a running kernel" in caption, (path.name, caption)
        shown += len(shots)
        links = page.eval_on_selector_all(".cnnedu-nav a",
                                          "els => els.map(e => e.getAttribute('href'))")
        expected = ["index.html"] + [p.with_suffix(".html").name
                                     for p in lessons[max(index - 1, 0):index + 2] if p != path]
        assert links[:len(expected)] == expected, path.name               # top bar ...
        assert links[len(expected):] == expected, path.name               # ... and bottom bar
        for href in set(links) - checked:
            assert page.request.get(f"{base}/{href}").status == 200, href
            checked.add(href)
    assert _outputs(nbformat.read(lessons[0], as_version=4), "image/png") >= 3   # real figures
    assert shown >= 5          # the explorers of lessons 01, 02 (three) and 07, as committed
    page.goto(f"{base}/00_start_here.html")
    note = page.locator(".cnnedu-widget-note").first.inner_text()
    assert re.search(r"progress bar: .*100%", note), note
    assert "needs a running kernel" in note
    context.close()
