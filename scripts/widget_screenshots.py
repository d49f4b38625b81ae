"""Screenshots of the lessons' explorers and viewers for the website (images/site_widgets/).

    python scripts/widget_screenshots.py            # quick mode (256x256 photos, short training)
    python scripts/widget_screenshots.py 02         # only lessons whose name starts with 02
    python scripts/widget_screenshots.py --full     # full mode, as the stored outputs
    python scripts/widget_screenshots.py 02 --plan-from /tmp/nb   # widgets listed by other copies

Runs each lesson that has one (exercises solved, bundled data) top to bottom in a real
JupyterLab in Chromium and saves every course widget as it first appears, under the name
scripts/build_site.py looks for (``02_alexnet-kernel-explorer-2.png``: lesson, kind, count).
Saved as a small palette PNG (at most 900 px wide, 128 colours), since they are committed. The
page is tall enough for the largest widget and JupyterLab's toolbar and status bar are hidden,
so neither covers part of a widget. Run it again
when a lesson adds, removes or reorders a widget: the site's browser test fails while one has
no screenshot.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from build_site import RUN_KEY, SHOTS, explorers  # noqa: E402
from lab_server import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402
from notebook_page import open_notebook, run_all  # noqa: E402

WIDTH, COLOURS = 900, 128
# JupyterLab's bars stay on screen over a scrolled notebook: hidden, they cover nothing
HIDE_BARS = ".jp-NotebookPanel-toolbar, #jp-main-statusbar, #jp-top-panel, #jp-menu-panel" \
            " { visibility: hidden !important; }"
# every image inside the widget has loaded (the browser decodes panels after the kernel sends them)
LOADED = """(el) => [...el.querySelectorAll('img')].every(i => !i.getAttribute('src') ||
                                                 (i.complete && i.naturalWidth > 0))"""


def plan(lessons: Path, prefix: str = "") -> dict[str, list[tuple[str, str]]]:
    """Lesson file -> [(kind, screenshot file)] for each lesson with a course widget."""
    found = {}
    for path in sorted(lessons.glob(f"{prefix}*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata["cnnedu_stem"] = path.stem
        shots = [(kind, name) for _, kind, name in explorers(notebook)]
        if shots:
            found[path.name] = shots
    return found


def small_png(png: bytes, path: Path, full: bool) -> None:
    """Save ``png`` at most WIDTH pixels wide with a palette of COLOURS colours; its text chunk
    ``cnnedu-run`` says which mode ran ("quick" or "full"), for the site's caption."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > WIDTH:
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    info = PngImagePlugin.PngInfo()
    info.add_text(RUN_KEY, "full" if full else "quick")
    image.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True,
                                                                         pnginfo=info)


def take(prefix: str, full: bool, plan_from: Path | None = None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    todo, saved = plan(plan_from or ROOT / "notebooks", prefix), []
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp), quick=not full, solved=True, data=None if full else "bundled")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 2400})
                page.set_default_timeout(120_000)
                for lesson, shots in todo.items():
                    start = time.monotonic()
                    open_notebook(page, lab, lesson)
                    run_all(page, timeout_ms=1_800_000, name=lesson)
                    page.add_style_tag(content=HIDE_BARS)
                    seen: dict[str, int] = {}
                    for kind, name in shots:
                        widget = page.locator(f".cnnedu-{kind}").nth(seen.get(kind, 0))
                        seen[kind] = seen.get(kind, 0) + 1
                        widget.scroll_into_view_if_needed()
                        page.wait_for_function(LOADED, arg=widget.element_handle())
                        small_png(widget.screenshot(), SHOTS / name, full)
                        saved.append(SHOTS / name)
                    print(f"{lesson}: {len(shots)} screenshot(s), {time.monotonic() - start:.0f} s")
                    lab.shutdown_kernels()
                browser.close()
        finally:
            lab.stop()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefix", nargs="?", default="", help="only lessons starting with this")
    parser.add_argument("--full", action="store_true", help="full mode (as the stored outputs)")
    parser.add_argument("--plan-from", type=Path, default=None,
                        help="list the widgets from executed copies in this folder instead of "
                             "notebooks/ (e.g. a quick trial build of a lesson not yet rebuilt)")
    args = parser.parse_args()
    for path in take(args.prefix, args.full, args.plan_from):
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
