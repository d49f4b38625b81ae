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


LESSON = """# %% [markdown]
# # A lesson
# %%
QUICK = None   # None: CNNEDU_SMOKE decides
SMOKE = smoke_mode(QUICK)
print("smoke mode" if SMOKE else "full mode")
# %%
# NBVAL_CHECK_OUTPUT
steps = 5 if SMOKE else 150   # fewer steps when SMOKE
print(steps, "SMOKE")
"""
RENAMES = {"SMOKE": "QUICK", "smoke_mode": "quick_mode", "CNNEDU_SMOKE": "CNNEDU_QUICK",
           "smoke mode": "quick mode"}


def _stored_with_outputs(tmp_path, text=LESSON, first="full mode\n", second="150 SMOKE\n"):
    path = _write_built(text, tmp_path / "lesson.ipynb")
    stored = nbformat.read(path, as_version=4)
    stored.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=first)]
    stored.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text=second)]
    nbformat.write(stored, path)
    return path


def test_a_pure_rename_keeps_the_outputs(tmp_path, capsys):
    """Truth: the renamed source written out by hand, not produced by the rename code."""
    path = _stored_with_outputs(tmp_path)
    by_hand = """# %% [markdown]
# # A lesson
# %%
QUICK = None   # None: CNNEDU_QUICK decides
QUICK = quick_mode(QUICK)
print("quick mode" if QUICK else "full mode")
# %%
# NBVAL_CHECK_OUTPUT
steps = 5 if QUICK else 150   # fewer steps when QUICK
print(steps, "SMOKE")
"""
    rebuilt = build_notebooks.parse(by_hand)
    build_notebooks.carry_outputs(rebuilt, path, RENAMES)
    assert rebuilt.cells[1].outputs[0].text == "full mode\n"
    assert rebuilt.cells[2].outputs[0].text == "150 SMOKE\n"
    assert "SMOKE and the existing QUICK merge" in capsys.readouterr().out


@pytest.mark.parametrize(("edit", "why"), [
    (("150", "151"), "code cell 1: differs by more than the renames"),
    (('"SMOKE")', '"QUICK")'), "code cell 1: differs by more than the renames"),  # in a string
    (("steps = 5 if QUICK", "steps = 5 if QUIK"), "code cell 1: differs by more"),
    (("print(steps", "print(QUICK, steps"), "code cell 1: differs by more"),
])
def test_anything_but_the_rename_is_refused_naming_the_cell(tmp_path, edit, why):
    path = _stored_with_outputs(tmp_path)
    renamed = (LESSON.replace("SMOKE", "QUICK").replace("smoke_mode", "quick_mode")
               .replace("smoke mode", "quick mode"))
    renamed = renamed.replace('print(steps, "QUICK")', 'print(steps, "SMOKE")')
    with pytest.raises(SystemExit, match=why.replace("(", r"\(")):
        build_notebooks.carry_outputs(build_notebooks.parse(renamed.replace(*edit)), path,
                                      RENAMES)


def test_a_renamed_string_that_the_stored_output_shows_is_refused(tmp_path):
    path = _stored_with_outputs(tmp_path, first="smoke mode\n")
    renamed = (LESSON.replace("SMOKE", "QUICK").replace("smoke_mode", "quick_mode")
               .replace("smoke mode", "quick mode").replace('"QUICK")', '"SMOKE")'))
    with pytest.raises(SystemExit, match="its stored output shows 'smoke mode'"):
        build_notebooks.carry_outputs(build_notebooks.parse(renamed), path, RENAMES)


def test_a_rename_onto_a_name_used_elsewhere_is_refused(tmp_path):
    text = LESSON + "# %%\nprint(QUICK)\n"
    path = _stored_with_outputs(tmp_path, text=text)
    renamed = (text.replace("SMOKE", "QUICK").replace("smoke_mode", "quick_mode")
               .replace("smoke mode", "quick mode").replace('"QUICK")', '"SMOKE")'))
    with pytest.raises(SystemExit, match=r"QUICK is already a name in code cells \[0, 2\]"):
        build_notebooks.carry_outputs(build_notebooks.parse(renamed), path, RENAMES)


def test_without_renames_a_rename_is_refused(tmp_path):
    path = _stored_with_outputs(tmp_path)
    with pytest.raises(SystemExit, match="run with --execute"):
        build_notebooks.carry_outputs(build_notebooks.parse(LESSON.replace("SMOKE", "FAST")),
                                      path)


def test_the_parser_keeps_a_shebang_inside_markdown():
    """jupytext with its magic escaping on would read ``# #!/bin/bash`` as ``!/bin/bash``."""
    notebook = build_notebooks.parse("# %% [markdown]\n# ```bash\n# #!/bin/bash\n# ```\n")
    assert notebook.cells[0].source == "```bash\n#!/bin/bash\n```"
    assert notebook.cells[0].metadata == {} and "jupytext" not in notebook.metadata
