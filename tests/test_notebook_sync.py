"""Every notebooks/NN_*.ipynb holds exactly the code cells of scripts/notebook_src/NN_*.py.

The notebooks are built from the sources by scripts/build_notebooks.py; a source edited without
a rebuild would ship a lesson whose stored outputs come from other code. The comparison is the
one the build script itself uses (``code_cell_mismatch``).
"""

from pathlib import Path

import build_notebooks  # scripts/ is on pytest's pythonpath (pyproject.toml)
import nbformat
import pytest

SOURCES = sorted(build_notebooks.SOURCES.glob("*.py"))


def test_every_source_has_a_notebook_and_every_notebook_a_source():
    assert SOURCES, "no notebook sources found"
    notebooks = sorted(p.stem for p in build_notebooks.NOTEBOOKS.glob("*.ipynb"))
    assert notebooks == [p.stem for p in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_code_is_its_source(source):
    built = build_notebooks.parse(source.read_text())
    stored = nbformat.read(build_notebooks.NOTEBOOKS / f"{source.stem}.ipynb", as_version=4)
    mismatch = build_notebooks.code_cell_mismatch(built, stored)
    assert mismatch is None, (f"{source.stem}.ipynb: {mismatch}; rebuild it: "
                              f"python scripts/build_notebooks.py --execute {source.stem[:2]}")


SAMPLE = """# %% [markdown]
# # A lesson
# %%
x = 1
# %% [markdown]
# Next idea.
# %%
# NBVAL_CHECK_OUTPUT
print(x + 1)
"""


def _write_built(text: str, path: Path) -> Path:
    nbformat.write(build_notebooks.parse(text), path)
    return path


def test_a_source_edited_without_a_rebuild_is_caught(tmp_path):
    notebook = _write_built(SAMPLE, tmp_path / "lesson.ipynb")
    stored = nbformat.read(notebook, as_version=4)
    assert build_notebooks.code_cell_mismatch(build_notebooks.parse(SAMPLE), stored) is None
    edited = SAMPLE.replace("x = 1", "x = 2")
    mismatch = build_notebooks.code_cell_mismatch(build_notebooks.parse(edited), stored)
    assert mismatch is not None and "[0]" in mismatch and "[1]" not in mismatch
    added = SAMPLE + "# %%\nprint('new')\n"
    mismatch = build_notebooks.code_cell_mismatch(build_notebooks.parse(added), stored)
    assert mismatch == "the notebook has 2 code cells, its source 3"


def test_a_real_source_edited_in_a_temp_copy_is_caught(tmp_path):
    source = SOURCES[0].read_text()
    notebook = _write_built(source, tmp_path / "copy.ipynb")
    stored = nbformat.read(notebook, as_version=4)
    edited = source.replace("\n# %%\n", "\n# %%\npass\n", 1)
    assert edited != source
    assert build_notebooks.code_cell_mismatch(build_notebooks.parse(edited), stored) is not None


def test_only_the_check_output_marker_and_markdown_may_differ(tmp_path):
    stored = nbformat.read(_write_built(SAMPLE, tmp_path / "lesson.ipynb"), as_version=4)
    unmarked = SAMPLE.replace("# NBVAL_CHECK_OUTPUT\n", "").replace("Next idea.", "Reworded.")
    assert build_notebooks.code_cell_mismatch(build_notebooks.parse(unmarked), stored) is None
    commented = SAMPLE.replace("# NBVAL_CHECK_OUTPUT\n", "# a comment\n")
    assert build_notebooks.code_cell_mismatch(build_notebooks.parse(commented), stored) is not None


def test_keep_outputs_changes_only_the_prose(tmp_path):
    stored_path = _write_built(SAMPLE, tmp_path / "lesson.ipynb")
    stored = nbformat.read(stored_path, as_version=4)
    stored.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nbformat.write(stored, stored_path)
    rebuilt = build_notebooks.parse(SAMPLE.replace("Next idea.", "Reworded."))
    build_notebooks.carry_outputs(rebuilt, stored_path)
    assert [c.id for c in rebuilt.cells] == [c.id for c in stored.cells]
    assert rebuilt.cells[-1].outputs[0].text == "2\n"
    assert rebuilt.cells[2].source == "Reworded."
