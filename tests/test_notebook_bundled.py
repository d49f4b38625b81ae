"""Notebook 00 runs top to bottom with the bundled subset alone (no real data files needed)."""

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_start_here_runs_on_the_bundled_subset(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    monkeypatch.setenv("CNNEDU_SMOKE", "1")
    notebook = nbformat.read(NOTEBOOKS / "00_start_here.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "train: 2,000 images, test: 1,000 images" in text
    assert "only the bundled subset was found" in text
    assert not any(o.output_type == "error" for c in notebook.cells
                   if c.cell_type == "code" for o in c.outputs)
    assert os.environ["CNNEDU_DATA"] == "bundled"
