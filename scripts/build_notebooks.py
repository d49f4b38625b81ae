"""Build the lesson notebooks from their sources, and optionally run them to store outputs.

    python scripts/build_notebooks.py                 # write notebooks/*.ipynb without outputs
    python scripts/build_notebooks.py --execute 01    # build and run lesson 01 in full mode

Sources live in scripts/notebook_src/NN_name.py as "percent" scripts: a line ``# %%`` starts a
code cell, ``# %% [markdown]`` a markdown cell (its lines start with ``# ``). Keeping sources
as plain text makes reviews and diffs readable; the committed .ipynb files hold the outputs of a
full top-to-bottom run, as a learner would see them.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "scripts" / "notebook_src"
NOTEBOOKS = ROOT / "notebooks"


def parse(text: str) -> nbformat.NotebookNode:
    """Percent-format text -> a notebook with one cell per ``# %%`` block."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    blocks = re.split(r"^# %%(.*)$", text, flags=re.M)
    for header, body in zip(blocks[1::2], blocks[2::2], strict=True):
        body = body.strip("\n")
        if "[markdown]" in header:
            lines = [re.sub(r"^# ?", "", line) for line in body.splitlines()]
            notebook.cells.append(nbformat.v4.new_markdown_cell("\n".join(lines)))
        else:
            notebook.cells.append(nbformat.v4.new_code_cell(body))
    return notebook


def build(name_filter: str | None, execute: bool, smoke: bool, timeout: int) -> None:
    for source in sorted(SOURCES.glob("*.py")):
        if name_filter and not source.stem.startswith(name_filter):
            continue
        notebook = parse(source.read_text())
        target = NOTEBOOKS / f"{source.stem}.ipynb"
        if execute:
            os.environ["CNNEDU_SMOKE"] = "1" if smoke else "0"
            start = time.perf_counter()
            NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
            print(f"{target.name}: ran in {time.perf_counter() - start:.0f} s")
        nbformat.write(notebook, target)
        print(f"wrote {target.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="?", help="build only notebooks whose name starts so")
    parser.add_argument("--execute", action="store_true", help="run and store outputs")
    parser.add_argument("--smoke", action="store_true", help="run in smoke mode (for checks)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    build(args.only, args.execute, args.smoke, args.timeout)


if __name__ == "__main__":
    main()
