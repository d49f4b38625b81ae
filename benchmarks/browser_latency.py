"""End-to-end latency of the pooling explorer in a real JupyterLab in Chromium (goal p95 <= 150 ms).

    python benchmarks/browser_latency.py [--moves 60]

Opens lesson 01, runs it, focuses the explorer's kernel slider handle and moves it with the
arrow keys (a real slider move: ipywidgets sends the new value at once). For each move it
measures, in the page, from the keydown event to the moment the output image's ``src`` changes
(new image bytes arrived from the kernel and were set), and prints p50/p95/max.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from lab_server import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402
from notebook_page import open_notebook, run_all  # noqa: E402

EXPLORER = ".cnnedu-pooling-explorer"
WATCH = """(sel) => {
    window.__latencies = [];
    window.__t0 = null;
    const img = document.querySelectorAll(sel + ' img')[1];
    new MutationObserver(() => {
        if (window.__t0 !== null) {
            window.__latencies.push(performance.now() - window.__t0);
            window.__t0 = null;
        }
    }).observe(img, {attributes: true, attributeFilter: ['src']});
    document.addEventListener('keydown', (e) => {
        if (e.key.startsWith('Arrow')) window.__t0 = performance.now();
    }, true);
}"""


def measure(moves: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp), smoke=False)   # full mode: the explorer's photos are 512x512
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                page.set_default_timeout(120_000)
                open_notebook(page, lab, "01_pooling.ipynb")
                run_all(page)
                page.locator(EXPLORER).scroll_into_view_if_needed()
                page.locator(f"{EXPLORER} select").first.select_option("astronaut")
                page.evaluate(WATCH, EXPLORER)
                handle = page.locator(f"{EXPLORER} .widget-slider").filter(
                    has=page.locator(".widget-label", has_text="kernel")).locator(".noUi-handle")
                handle.focus()
                for i in range(moves):
                    page.keyboard.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft")
                    page.wait_for_function("(n) => window.__latencies.length >= n", arg=i + 1)
                latencies = page.evaluate("() => window.__latencies")
                browser.close()
        finally:
            lab.stop()
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=60)
    args = parser.parse_args()
    times = measure(args.moves)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"pooling explorer in JupyterLab + Chromium, 512x512 photo, {len(times)} slider moves")
    print(f"p50 {statistics.median(times):.0f} ms | p95 {p95:.0f} ms | max {times[-1]:.0f} ms | "
          f"goal p95 <= 150 ms: {'met' if p95 <= 150 else 'NOT met'}")


if __name__ == "__main__":
    main()
