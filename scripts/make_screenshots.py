"""Take the README's screenshots in a real JupyterLab in Chromium (images/screenshots/).

    python scripts/make_screenshots.py            # quick mode: 256x256 explorer photos, quick
    python scripts/make_screenshots.py --full     # full mode, as a learner sees the lessons

Runs lessons 01 and 02 top to bottom, sets the pooling explorer to kernel 4, stride 3 on the
astronaut, picks the second convolution in the feature-map viewer and clicks one map to enlarge
it, and saves each widget. The
tests never write here: images/ holds the photos the lessons read.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from lab_server import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402
from notebook_page import (  # noqa: E402
    click_feature_map,
    image_src,
    open_notebook,
    run_all,
    set_slider,
    wait_src_change,
)

OUT = ROOT / "images" / "screenshots"


def take(full: bool) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    saved = []
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp), quick=not full)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                page.set_default_timeout(120_000)

                explorer = ".cnnedu-pooling-explorer"
                open_notebook(page, lab, "01_pooling.ipynb")
                run_all(page, name="01_pooling.ipynb")
                page.locator(explorer).scroll_into_view_if_needed()
                page.locator(f"{explorer} select").first.select_option("astronaut")
                for label, value in (("kernel", 4), ("stride", 3)):
                    before = image_src(page, explorer, 1)
                    set_slider(page, explorer, label, value)
                    wait_src_change(page, explorer, 1, before)
                saved.append(OUT / "pooling_explorer.png")
                page.locator(explorer).screenshot(path=str(saved[-1]))
                lab.shutdown_kernels()

                viewer = ".cnnedu-feature-viewer"
                open_notebook(page, lab, "02_alexnet.ipynb")
                run_all(page, name="02_alexnet.ipynb")
                page.locator(viewer).scroll_into_view_if_needed()
                before = image_src(page, viewer, 0)
                page.locator(f"{viewer} select").nth(1).select_option("features.3")
                wait_src_change(page, viewer, 0, before)
                click_feature_map(page, viewer, 5)   # enlarged beside the grid, its tile framed
                saved.append(OUT / "feature_maps.png")
                page.locator(viewer).screenshot(path=str(saved[-1]))
                browser.close()
        finally:
            lab.stop()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="full mode (512x512 photos)")
    args = parser.parse_args()
    for path in take(args.full):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
