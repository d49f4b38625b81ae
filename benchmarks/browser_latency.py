"""End-to-end latency of the explorers in a real JupyterLab in Chromium, and their screenshots.

    python benchmarks/browser_latency.py [--moves 60] [--screenshots] [--only pooling|more]

Runs a small notebook (a pooling and a kernel explorer on the 512×512 ``astronaut`` photo and
the seed post's 4×4 tensor) and measures, inside the page, with ``performance.now()``:

* **pointer**: from a ``pointermove`` onto a new output pixel of the pooling explorer to the
  moment the zoom panel shows that pixel's window (the kernel computed it and the browser put it
  in the page). Goal: p95 <= 50 ms.
* **slider**: from an arrow key on the kernel slider to the moment the new output panels are in
  the page. Goal: p95 <= 150 ms.

A second notebook measures the same two things on the kernel explorer's colour mode (the
``astronaut`` photo in colour, 256×256, depthwise: pointing at output channel 1; slider: stride)
and on lesson 07's attribution explorer (the lesson's ResNet, untrained, on random 28×28
images, method occlusion: pointing at the map; slider: the occlusion patch, whose first visit
to a value runs the occluded forwards).

With ``--screenshots`` it also saves the explorers' new views under ``images/screenshots/``
(for the README; the tests never write there).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from lab_server import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402
from notebook_page import open_notebook, run_all, set_slider  # noqa: E402
from test_explorers_in_browser import (  # noqa: E402
    CONV,
    POOL,
    choose_image,
    point_at,
    wait_label,
    write_notebook,
    zoom_where,
)

from cnnedu.profiling import percentiles  # noqa: E402

SHOTS = ROOT / "images" / "screenshots"
WATCH = """(sel) => {
    const root = document.querySelector(sel);
    window.__pointer = []; window.__slider = []; window.__t0 = null; window.__kind = null;
    const stop = (kind) => () => {
        if (window.__t0 !== null && window.__kind === kind) {
            window['__' + kind].push(performance.now() - window.__t0);
            window.__t0 = null;
        }
    };
    new MutationObserver(stop('pointer')).observe(root.querySelector('.cnnedu-zoom'),
                                                 {childList: true, subtree: true});
    new MutationObserver(stop('slider')).observe(root.querySelector('.cnnedu-panel-row'),
                                                {childList: true});
    root.querySelector('.cnnedu-panel-row').addEventListener('pointermove', () => {
        if (window.__kind === 'pointer' && window.__t0 === null) window.__t0 = performance.now();
    }, true);
    document.addEventListener('keydown', (e) => {
        if (e.key.startsWith('Arrow')) { window.__kind = 'slider'; window.__t0 = performance.now(); }
    }, true);
}"""


def measure(page, moves: int) -> dict[str, list[float]]:
    """Pointer moves over the max-pooled output, then kernel-slider moves (astronaut 512×512)."""
    choose_image(page, POOL, "astronaut")
    wait_label(page, POOL, "256×256")
    page.evaluate(WATCH, POOL)
    rng = random.Random(0)
    point_at(page, POOL, "max", 0, 0)
    zoom_where(page, POOL, 0, 0)
    page.evaluate("() => { window.__kind = 'pointer'; }")
    for i in range(moves):
        row, col = rng.randrange(1, 255), rng.randrange(1, 255)
        point_at(page, POOL, "max", row, col)
        zoom_where(page, POOL, row, col)
        page.wait_for_function("(n) => window.__pointer.length >= n", arg=i + 1)
    handle = page.locator(f"{POOL} .widget-slider").filter(
        has=page.locator(".widget-label", has_text="kernel")).locator(".noUi-handle")
    handle.focus()
    for i in range(moves):
        page.keyboard.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft")
        page.wait_for_function("(n) => window.__slider.length >= n", arg=i + 1)
    return {"pointer": page.evaluate("() => window.__pointer"),
            "slider": page.evaluate("() => window.__slider")}


MORE = """\
import torch
from cnnedu.data import CLASS_NAMES
from cnnedu.images import load_photo
from cnnedu.recipes import get_recipe
from cnnedu.widgets.attribution_explorer import AttributionExplorer
from cnnedu.widgets.rgb_kernel_explorer import RGBKernelExplorer

torch.manual_seed(0)
model = get_recipe("resnet").build().eval()
g = torch.Generator().manual_seed(0)
digits = {f"image {i}": torch.randn(1, 28, 28, generator=g) for i in range(4)}"""
RGB = ".cnnedu-rgb-kernel-explorer"
ATTR = ".cnnedu-attribution-explorer"


def write_more(folder) -> str:
    """The second notebook: the colour kernel explorer and the attribution explorer."""
    import nbformat

    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(MORE),
                  nbformat.v4.new_code_cell('RGBKernelExplorer(images={"astronaut": '
                                            'load_photo("astronaut", 256)})'),
                  nbformat.v4.new_code_cell("explorer = AttributionExplorer(model, digits, "
                                            "CLASS_NAMES)\nexplorer.method.value = "
                                            "'occlusion'\nexplorer")]
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    nbformat.write(book, folder / "latency_more.ipynb")
    return "latency_more.ipynb"


def measure_one(page, root: str, key: str, side: int, where: str, slider: str,
                moves: int) -> dict[str, list[float]]:
    """Pointer moves over panel ``key`` (``side`` pixels square; ``where`` the zoom element
    naming the pixel), then arrow keys on slider ``slider``, of the explorer at ``root``."""
    page.evaluate(WATCH, root)
    rng = random.Random(0)
    page.evaluate("() => { window.__kind = 'pointer'; }")
    for i in range(moves):
        row, col = rng.randrange(1, side - 1), rng.randrange(1, side - 1)
        point_at(page, root, key, row, col)
        page.locator(f"{root} {where}[data-row='{row}'][data-col='{col}']").first.wait_for(
            state="attached")
        page.wait_for_function("(n) => window.__pointer.length >= n", arg=i + 1)
    handle = page.locator(f"{root} .widget-slider").filter(
        has=page.locator(".widget-label", has_text=slider)).locator(".noUi-handle")
    handle.focus()
    for i in range(moves):
        page.keyboard.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft")
        page.wait_for_function("(n) => window.__slider.length >= n", arg=i + 1)
    return {"pointer": page.evaluate("() => window.__pointer"),
            "slider": page.evaluate("() => window.__slider")}


def measure_more(page, moves: int) -> dict[str, dict[str, list[float]]]:
    """The colour kernel explorer and the attribution explorer (occlusion), one after the
    other."""
    page.wait_for_selector(f"{RGB} .cnnedu-panel[data-key='out1'] img", state="visible")
    page.wait_for_selector(f"{ATTR} .cnnedu-panel[data-key='map'] img", state="visible")
    return {"colour kernel explorer": measure_one(page, RGB, "out1", 256,
                                                  ".cnnedu-zoom-where", "stride", moves),
            "attribution explorer": measure_one(page, ATTR, "map", 28, ".cnnedu-attr-zoom",
                                                "patch", moves)}


def report(name: str, times: dict[str, list[float]]) -> None:
    """p50/p95/max and deciles of the pointer and slider times against their goals."""
    print(name)
    for kind, goal, what in (("pointer", 50, "pointer move -> zoom panel updated"),
                             ("slider", 150, "slider change -> new output")):
        values = sorted(times[kind])
        p50, p95 = percentiles(values, (50, 95))
        print(f"  {what:36s}: {len(values)} moves | p50 {p50:.0f} ms | "
              f"p95 {p95:.0f} ms | max {values[-1]:.0f} ms | goal p95 <= {goal} ms: "
              f"{'met' if p95 <= goal else 'NOT met'}")
        deciles = percentiles(values, (10, 30, 50, 70, 80, 90))
        print(f"  {'':36s}  p10/p30/p50/p70/p80/p90: " + " / ".join(f"{v:.0f}" for v in deciles))


def screenshots(page) -> None:
    """The pooling explorer comparing max, avg and max − avg with a window picked, and the
    kernel explorer showing window × kernel, saved under images/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    choose_image(page, POOL, "astronaut")
    set_slider(page, POOL, "kernel", 4)
    set_slider(page, POOL, "stride", 4)
    page.locator(f"{POOL} .widget-checkbox", has_text="max − avg panel").locator("input").check()
    page.wait_for_selector(f"{POOL} .cnnedu-panel[data-key='difference']")
    point_at(page, POOL, "max", 40, 60)
    zoom_where(page, POOL, 40, 60, "max")
    page.mouse.move(0, 0)
    page.locator(POOL).screenshot(path=str(SHOTS / "pooling_explorer_compare.png"))
    choose_image(page, CONV, "astronaut")
    point_at(page, CONV, "output", 120, 250)
    zoom_where(page, CONV, 120, 250)
    page.mouse.move(0, 0)
    page.locator(CONV).screenshot(path=str(SHOTS / "kernel_explorer_zoom.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--screenshots", action="store_true")
    parser.add_argument("--only", choices=["pooling", "more"], default=None,
                        help="pooling: the first notebook only; more: the second only")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1500, "height": 2200})
                page.set_default_timeout(120_000)
                if args.only != "more":
                    open_notebook(page, lab, write_notebook(lab.folder))
                    run_all(page, name="benchmark")
                    page.wait_for_selector(f"{POOL} .cnnedu-stage img", state="visible")
                    results["pooling explorer (pointer), kernel explorer (slider)"] = \
                        measure(page, args.moves)
                    if args.screenshots:
                        screenshots(page)
                if args.only != "pooling":
                    open_notebook(page, lab, write_more(lab.folder))
                    run_all(page, name="benchmark, more explorers")
                    results.update(measure_more(page, args.moves))
                browser.close()
        finally:
            lab.stop()
    load = os.getloadavg()[0]
    print(f"explorers in JupyterLab + Chromium, {os.cpu_count()} CPUs, load average {load:.1f}")
    for name, times in results.items():
        report(name, times)


if __name__ == "__main__":
    main()
