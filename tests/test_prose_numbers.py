"""Every number a lesson's prose states about a result is printed by that lesson.

The checker (scripts/check_prose_numbers.py, rule in its docstring) runs on the committed
notebooks; the other tests pin its rule on small hand-made notebooks whose right answer is
obvious by reading, and show that it catches a wrong number planted in a copy of a real lesson.
"""

import re
from pathlib import Path

import build_notebooks  # scripts/ is on pytest's pythonpath (pyproject.toml)
import check_prose_numbers as checker
import nbformat
import pytest

from cnnedu.facts import LITERATURE, literature_values, show_facts

NOTEBOOKS = sorted(build_notebooks.NOTEBOOKS.glob("*.ipynb"))
# Lessons that quote literature figures but have no cell yet that calls show_facts("NN"):
# adding that code cell needs a rerun of the lesson. Remove a lesson here once it has one.
FACTS_CELL_PENDING: set[str] = set()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_lesson_prints_every_number_its_prose_states(path):
    cells = nbformat.read(path, as_version=4).cells
    if not any(c.get("outputs") for c in cells if c.cell_type == "code"):
        pytest.skip(f"{path.name} holds no outputs (built without running); its full run is "
                    "what this test checks")
    missing = checker.unbacked_numbers(path)
    assert not missing, "\n".join(map(str, missing))


def test_a_wrong_number_planted_in_a_copy_of_a_lesson_fails(tmp_path):
    source = build_notebooks.NOTEBOOKS / "02_alexnet.ipynb"
    notebook = nbformat.read(source, as_version=4)
    assert checker.unbacked_numbers(source) == []
    markdown = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown" and i > 40)
    notebook.cells[markdown].source += "\n\nIn the committed run SGD lost 0.317 against the recipe."
    planted = tmp_path / "02_alexnet.ipynb"
    nbformat.write(notebook, planted)
    missing = checker.unbacked_numbers(planted)
    assert [(m.cell, m.number) for m in missing] == [(markdown, "0.317")]
    # The printed figure itself (the ablation verdict's SGD effect, e.g. -0.420) passes there.
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                      for o in c.outputs)
    sgd_loss = re.search(r"SGD \+ Nesterov, one-cycle to 0\.05 minus recipe, over \d+ seed\(s\): "
                         r"-(0\.\d{3})", printed).group(1)
    notebook.cells[markdown].source = notebook.cells[markdown].source.replace("0.317", sgd_loss)
    nbformat.write(notebook, planted)
    assert checker.unbacked_numbers(planted) == []


def _notebook(tmp_path: Path, markdown: str, printed: str, code: str = "pass",
              name: str = "99_test.ipynb") -> Path:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    notebook.cells = [nbformat.v4.new_markdown_cell(markdown), cell]
    path = tmp_path / name
    nbformat.write(notebook, path)
    return path


def _flagged(tmp_path, markdown, printed="", code="pass", name="99_test.ipynb"):
    path = _notebook(tmp_path, markdown, printed, code, name)
    return [m.number for m in checker.unbacked_numbers(path, facts=None if name[:2] != "99"
                                                       else [])]


@pytest.mark.parametrize("prose, printed", [
    ("reaches 0.92 test accuracy", "test accuracy 0.9231"),       # rounded to the prose
    ("about 90× faster", "speed-up 89.6x"),
    ("fastest at 1,600 workers", "N = 1,628"),                    # trailing zeros are rounding
    ("accuracy of 92.3 %", "accuracy 0.923"),                     # percent vs fraction
    ("accuracy of 0.923", "accuracy 92.3%"),
    ("61 M parameters", "parameters: 61,100,840"),
    ("SGD lost 0.22", "SGD  -0.222"),                             # sign ignored
    ("learned at 1 of 6 rates", "learns at 1 of 6 learning rates"),
])
def test_a_printed_number_backs_its_prose(tmp_path, prose, printed):
    assert _flagged(tmp_path, prose, printed) == []


@pytest.mark.parametrize("prose, printed, wrong", [
    ("reaches 0.93 test accuracy", "test accuracy 0.9231", "0.93"),
    ("about 0.87 after training", "accuracy 0.876", "0.87"),     # 0.876 reads as 0.88
    ("killed before step 32 of 40", "exiting at step 31", "32"),
    ("100 workers", "N = 149", "100"),                           # one significant digit: exact
    ("22 % of the time", "time 0.4", "22"),
    ("## The data\n70,000 photos", "60,000 + 10,000", "70,000"),  # a word ends the line above
])
def test_an_unprinted_number_is_flagged(tmp_path, prose, printed, wrong):
    assert wrong in _flagged(tmp_path, prose, printed)


@pytest.mark.parametrize("prose", [
    "ResNet-18 and VGG-16, conv1 and fc6, top-5 error, CIFAR-10",   # names
    "28×28 images, 3x3 kernels",                                     # shapes
    "`lr=0.317` and $\\sigma = 0.317$ and ```\nx = 0.317\n```",      # code and LaTeX
    "lessons 01-04, section 3, exercise 05.1, seeds 0, 1 and 2",     # labels
    "## 3. A heading\n1. a list item",                               # markers
    "AlexNet (2012) and pytorch/vision issue #906",                  # years, issue numbers
    "torch 2.14.1",                                                  # versions
    "3 seeds, 4 epochs, 64 channels",                                # small counts, settings
    "[a link](https://example.com/0.317) and arXiv:1512.03385",
])
def test_structural_numbers_are_not_checked(tmp_path, prose):
    assert _flagged(tmp_path, prose) == []


def test_a_setting_in_a_code_cell_backs_its_prose(tmp_path):
    assert _flagged(tmp_path, "trained with lr 0.05 on 12,000 images", "",
                    code="fit(lr=0.05, limit=12_000)") == []


def test_literature_fact_backs_prose_only_in_its_lesson(tmp_path):
    prose = "ResNet won with 152 layers"
    assert _flagged(tmp_path, prose, name="04_x.ipynb") == []
    assert _flagged(tmp_path, prose, name="05_x.ipynb") == ["152"]


def test_literature_values_splits_width_lists_and_rejects_bad_lessons():
    assert literature_values("02")[:5] == ["96", "256", "384", "384", "256"]
    assert literature_values("99") == []
    with pytest.raises(ValueError, match="lesson must be two digits.*'2'"):
        literature_values("2")


def test_show_facts_prints_each_value_with_its_source(capsys):
    show_facts("04")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(LITERATURE["04"])
    assert "152" in out[0] and "He, Zhang, Ren, Sun" in out[0]


def test_lessons_that_quote_literature_show_it_or_are_listed_as_pending():
    without_cell = set()
    for lesson in LITERATURE:
        path = next(build_notebooks.NOTEBOOKS.glob(f"{lesson}_*.ipynb"))
        cells = nbformat.read(path, as_version=4).cells
        if not any(c.cell_type == "code" and f'show_facts("{lesson}")' in c.source
                   for c in cells):
            without_cell.add(lesson)
    assert without_cell == FACTS_CELL_PENDING


def test_command_line_reports_and_fails(tmp_path, capsys):
    path = _notebook(tmp_path, "reaches 0.93", "0.9231")
    assert checker.main([str(path)]) == 1
    assert "'0.93'" in capsys.readouterr().out
