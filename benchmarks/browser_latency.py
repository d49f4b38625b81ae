"""End-to-end latency of the explorers in a real JupyterLab in Chromium, and their screenshots.

    python benchmarks/browser_latency.py [--moves 60] [--screenshots]

Runs a small notebook (a pooling and a kernel explorer on the 512×512 ``astronaut`` photo and
the seed post's 4×4 tensor) and measures, inside the page, with ``performance.now()``:

* **pointer**: from a ``pointermove`` onto a new output pixel of the pooling explorer to the
  moment the zoom panel shows that pixel's window (the kernel computed it and the browser put it
  in the page). Goal: p95 <= 50 ms.
* **slider**: from an arrow key on the kernel slider to the moment the new output panels are in
  the page. Goal: p95 <= 150 ms.

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
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1500, "height": 2200})
                page.set_default_timeout(120_000)
                open_notebook(page, lab, write_notebook(lab.folder))
                run_all(page, name="benchmark")
                page.wait_for_selector(f"{POOL} .cnnedu-stage img", state="visible")
                times = measure(page, args.moves)
                if args.screenshots:
                    screenshots(page)
                browser.close()
        finally:
            lab.stop()
    load = os.getloadavg()[0]
    print(f"explorers in JupyterLab + Chromium, astronaut 512×512, {os.cpu_count()} CPUs, "
          f"load average {load:.1f}")
    for kind, goal, what in (("pointer", 50, "pointer move -> zoom panel updated"),
                             ("slider", 150, "slider change -> new output")):
        values = sorted(times[kind])
        p50, p95 = percentiles(values, (50, 95))
        print(f"{what:36s}: {len(values)} moves | p50 {p50:.0f} ms | "
              f"p95 {p95:.0f} ms | max {values[-1]:.0f} ms | goal p95 <= {goal} ms: "
              f"{'met' if p95 <= goal else 'NOT met'}")
        deciles = percentiles(values, (10, 30, 50, 70, 80, 90))
        print(f"{'':36s}  p10/p30/p50/p70/p80/p90: " + " / ".join(f"{v:.0f}" for v in deciles))


if __name__ == "__main__":
    main()
