"""Build the lesson notebooks from their sources, and optionally run them to store outputs.

    python scripts/build_notebooks.py                 # write notebooks/*.ipynb without outputs
    python scripts/build_notebooks.py --execute 01    # build and run lesson 01 in full mode
    python scripts/build_notebooks.py --keep-outputs 02   # markdown edits only: keep the outputs
    python scripts/build_notebooks.py --keep-outputs --renamed SMOKE=QUICK   # a pure rename
    python scripts/build_notebooks.py --execute --quick --out /tmp/nb 02     # a quick trial run

Sources live in scripts/notebook_src/NN_name.py as "percent" scripts: a line ``# %%`` starts a
code cell, ``# %% [markdown]`` a markdown cell (its lines start with ``# ``); jupytext reads
them. Keeping sources as plain text makes reviews and diffs readable; the committed .ipynb files
hold the outputs of a full top-to-bottom run, as a learner would see them. ``--renamed``
(see scripts/renames.py) lets ``--keep-outputs`` carry outputs across a checked rename.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from renames import explain_by_renames, parse_renames

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "scripts" / "notebook_src"
NOTEBOOKS = ROOT / "notebooks"


def parse(text: str) -> nbformat.NotebookNode:
    """Percent-format text -> a notebook with one cell per ``# %%`` block (jupytext's reader).

    ``comment_magics=False``: the lessons hold no IPython magics, and with magic escaping on
    jupytext reads a markdown line ``# #!/bin/bash`` as ``!/bin/bash`` (lesson 06's Slurm
    script). jupytext's own metadata (cell spacing, its version) is dropped: the notebooks carry
    only what Jupyter itself writes.
    """
    notebook = jupytext.reads(text, fmt={"extension": ".py", "format_name": "percent",
                                         "comment_magics": False})
    for cell in notebook.cells:
        cell.metadata = {}
    # The kernelspec exactly as JupyterLab writes it on opening (ipykernel's display name), so
    # opening a lesson does not mark it modified.
    notebook.metadata = nbformat.NotebookNode({
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                       "language": "python"},
        "language_info": {"name": "python"},
    })
    return notebook


def _without_marker(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if line.strip() != "# NBVAL_CHECK_OUTPUT")


def code_cell_mismatch(built: nbformat.NotebookNode, stored: nbformat.NotebookNode) -> str | None:
    """Why ``stored`` does not hold exactly the code cells of ``built`` (None when it does).

    Only the ``# NBVAL_CHECK_OUTPUT`` marker may differ: it tells nbval whether to compare a
    cell's output, it does not change what the cell computes. The notebook-sync test and
    ``--keep-outputs`` both use this one comparison.
    """
    built_code = [c.source for c in built.cells if c.cell_type == "code"]
    stored_code = [c.source for c in stored.cells if c.cell_type == "code"]
    if len(built_code) != len(stored_code):
        return f"the notebook has {len(stored_code)} code cells, its source {len(built_code)}"
    changed = [i for i, (a, b) in enumerate(zip(built_code, stored_code, strict=True))
               if _without_marker(a) != _without_marker(b)]
    if changed:
        return f"code cells {changed} (counting code cells from 0) differ from the source"
    return None


def carry_outputs(new: nbformat.NotebookNode, old_path: Path,
                  renames: dict[str, str] | None = None) -> None:
    """Copy outputs from the stored notebook into ``new``; every code cell must be unchanged.

    Markdown may differ (that is the point: fix prose without a long rerun), and so may the
    ``# NBVAL_CHECK_OUTPUT`` marker, which only tells nbval whether to compare a cell. With
    ``renames``, a code cell may also differ by exactly those renames (scripts/renames.py says
    which renames keep outputs valid). Any other change to a code cell means the stored outputs
    are not from this code: that is an error naming the cells.
    When the cells are the same kinds in the same order, their ids are kept too.
    """
    old = nbformat.read(old_path, as_version=4)
    old_code = [c for c in old.cells if c.cell_type == "code"]
    new_code = [c for c in new.cells if c.cell_type == "code"]
    mismatch = code_cell_mismatch(new, old)
    if mismatch and renames and len(old_code) == len(new_code):
        notes, refusals = explain_by_renames([c.source for c in new_code], old_code, renames,
                                             normalise=_without_marker)
        if refusals:
            raise SystemExit(f"{old_path.name}: not a pure rename, outputs not carried:\n  "
                             + "\n  ".join(refusals))
        print(f"{old_path.name}: " + "; ".join(notes))
    elif mismatch:
        raise SystemExit(f"{old_path.name}: {mismatch}; run with --execute instead")
    for a, b in zip(old_code, new_code, strict=True):
        b.outputs, b.execution_count, b.metadata = a.outputs, a.execution_count, a.metadata
    # Same cells in the same order: keep their ids, so the diff of a prose fix is the prose.
    if [c.cell_type for c in old.cells] == [c.cell_type for c in new.cells]:
        for a, b in zip(old.cells, new.cells, strict=True):
            if "id" in a:
                b.id = a.id
    new.metadata = old.metadata


def build(name_filter: str | None, execute: bool, quick: bool, timeout: int,
          keep_outputs: bool = False, out_dir: Path | None = None,
          renames: dict[str, str] | None = None) -> None:
    for source in sorted(SOURCES.glob("*.py")):
        if name_filter and not source.stem.startswith(name_filter):
            continue
        notebook = parse(source.read_text())
        target = (out_dir or NOTEBOOKS) / f"{source.stem}.ipynb"
        if execute:
            os.environ["CNNEDU_QUICK"] = "1" if quick else "0"
            start = time.perf_counter()
            NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
            print(f"{target.name}: ran in {time.perf_counter() - start:.0f} s")
        elif keep_outputs:
            carry_outputs(notebook, target, renames)
        nbformat.write(notebook, target)
        print(f"wrote {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="?", help="build only notebooks whose name starts so")
    parser.add_argument("--execute", action="store_true", help="run and store outputs")
    parser.add_argument("--quick", action="store_true", help="run in quick mode (for checks)")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="reuse stored outputs (only when no code cell changed)")
    parser.add_argument("--renamed", action="append", default=[], metavar="OLD=NEW",
                        help="with --keep-outputs: code cells may differ by this rename "
                             "(repeatable; checked token by token, see scripts/renames.py)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the notebooks here instead of notebooks/ (trial runs)")
    args = parser.parse_args()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    if args.renamed and not args.keep_outputs:
        parser.error("--renamed goes with --keep-outputs")
    build(args.only, args.execute, args.quick, args.timeout, args.keep_outputs, args.out,
          parse_renames(args.renamed))


if __name__ == "__main__":
    main()
