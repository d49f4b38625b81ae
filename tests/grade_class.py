"""Small copies of lessons 00 and 01 with chosen answers, for the grader's tests (test_grade.py,
test_grade_time_limit.py: two files, so that pytest-xdist can run the notebook that waits out
its time limit beside the class being graded)."""

import re
from pathlib import Path

import nbformat
from build_notebooks import parse

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^# EXERCISE (\d\d\.\d+)\s*$", re.M)
IDS = {lesson: MARKER.findall(next((ROOT / "scripts" / "notebook_src").glob(f"{lesson}_*.py"))
                              .read_text()) for lesson in ("00", "01")}   # 00.1; 01.1 ... 01.5
EXERCISE_COUNT = sum(map(len, IDS.values()))


def exercise_notebook(lesson: str, answers: dict[str, str], extra: str = "") -> nbformat.NotebookNode:
    """A small lesson copy: the parameters cell, then each exercise's answer and check cells
    (answers replaced where given), then ``extra`` as a last cell."""
    cells = parse(next((ROOT / "scripts" / "notebook_src").glob(f"{lesson}_*.py")).read_text()).cells
    code = [c for c in cells if c.cell_type == "code"]
    kept = [code[0]]
    for answer, check in zip(code, code[1:], strict=False):
        found = MARKER.search(answer.source)
        if found:
            exercise = found.group(1)
            if exercise in answers:
                answer = nbformat.v4.new_code_cell(f"# EXERCISE {exercise}\n{answers[exercise]}")
            kept += [answer, check]
    if extra:
        kept.append(nbformat.v4.new_code_cell(extra))
    notebook = nbformat.v4.new_notebook(cells=kept)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def write(folder: Path, lesson: str, notebook) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = next((ROOT / "notebooks").glob(f"{lesson}_*.ipynb")).name
    nbformat.write(notebook, folder / name)
