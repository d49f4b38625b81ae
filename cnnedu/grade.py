"""A grade report for a class: which learner answered which exercise, and how.

    python -m cnnedu grade submissions/*/ --out grades     (one folder per learner)

Each FOLDER holds one learner's lesson notebooks (``NN_name.ipynb``, found at any depth; the
folder's name is the learner's). Every notebook is copied to a temporary folder and run there
(:mod:`cnnedu.grade_run`: quick mode, no network, a time limit per notebook), or with
``--read`` its stored outputs are read as they are (what the learner last ran, not re-checked).
The learners' files are only read, never written. The exercises of a lesson are those marked
``# EXERCISE NN.K`` in the course's own copy of it, so a learner deleting an exercise shows.

Per learner and exercise the report says ``correct``, ``wrong`` or ``error`` (their code
raised), ``partly answered`` (a two-part answer with one part), ``not answered``, ``no verdict``
(the check did not run, e.g. its cell raised), ``time limit`` or ``no notebook``, and for wrong
answers the check's own first failing case. ``grades.csv`` holds one row each; ``summary.txt``
the counts per exercise and per learner; ``executed/`` the executed copies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from cnnedu.course_files import lesson_notebooks
from cnnedu.grade_report import Row, write_report
from cnnedu.grade_run import GRADER_TAG, OFFLINE_ENV

MARKER = re.compile(r"^# EXERCISE (\d\d\.\d+)\s*$", re.M)
VERDICT = re.compile(r"^(✅|❌|💥|✏️)\s+(\d\d\.\d+)((?: \([^)]*\))?)(.*)$", re.M)
STATUS = {"✅": "correct", "❌": "wrong", "💥": "error", "✏️": "not answered"}
def course_exercises(notebooks: list[Path] | None = None) -> dict[str, tuple[str, list[str]]]:
    """Lesson number -> (notebook name, exercise ids in order), from the course's own notebooks."""
    lessons = {}
    for path in notebooks if notebooks is not None else lesson_notebooks():
        cells = nbformat.read(path, as_version=4).cells
        ids = [m.group(1) for c in cells if c.cell_type == "code" for m in MARKER.finditer(c.source)]
        lessons[path.name[:2]] = (path.name, ids)
    return lessons


def learner_notebooks(folder: Path) -> dict[str, Path]:
    """Lesson number -> the learner's notebook (the course's name first, else the first found)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("[0-9][0-9]_*.ipynb")):
        if ".ipynb_checkpoints" not in path.parts:
            found.setdefault(path.name[:2], []).append(path)
    return {number: min(paths, key=lambda p: (len(p.relative_to(folder).parts), len(p.name), p))
            for number, paths in found.items()}


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def _error(cell) -> str:
    errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
    return f"{errors[0].ename}: {errors[0].evalue}".strip(": ")[:200] if errors else ""


def _detail(output: str, match: re.Match) -> str:
    """The verdict's own words and the indented lines after it (the failing case, expected and
    got, the line of the learner's code), without the hints."""
    words = [(match.group(2) + match.group(3) + match.group(4)).strip()]
    for line in output[match.end():].lstrip("\n").split("\n"):
        if not line.startswith("   ") or line.strip().startswith(("Hint", "More", "Stuck")):
            break
        words.append(line.strip())
    return " | ".join(words)


def verdicts(notebook: nbformat.NotebookNode, exercise_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Exercise id -> (status, detail), read from an executed notebook's outputs.

    Only verdicts printed after the exercise's answer cell count (lesson 00 shows a deliberately
    wrong answer before its exercise); the last one of each part wins, as a learner sees it.
    """
    cells = [c for c in notebook.cells if c.cell_type == "code"
             and GRADER_TAG not in c.get("metadata", {}).get("tags", [])]
    answer_at = {m.group(1): i for i, c in enumerate(cells) for m in MARKER.finditer(c.source)}
    results = {}
    for exercise in exercise_ids:
        start = answer_at.get(exercise, 0)
        parts: dict[str, tuple[str, str]] = {}
        for cell in cells[start:]:
            output = _text(cell)
            for match in VERDICT.finditer(output):
                if match.group(2) == exercise:
                    parts[match.group(3)] = (STATUS[match.group(1)], _detail(output, match))
        if not parts:
            results[exercise] = _no_verdict(cells, answer_at.get(exercise))
            continue
        statuses = [status for status, _ in parts.values()]
        bad = [(s, d) for s, d in parts.values() if s in ("wrong", "error")]
        if all(s == "correct" for s in statuses):
            results[exercise] = ("correct", "")
        elif bad:
            results[exercise] = bad[0]
        elif all(s == "not answered" for s in statuses):
            results[exercise] = ("not answered", "")
        else:
            results[exercise] = ("partly answered", "; ".join(d for s, d in parts.values()
                                                              if s == "not answered"))
    return results


def _no_verdict(cells: list, answer: int | None) -> tuple[str, str]:
    if answer is None:
        return "no verdict", "its answer cell (# EXERCISE) is not in the notebook"
    if _error(cells[answer]).startswith("KeyboardInterrupt"):     # stopped at the time limit
        return "no verdict", "the answer cell was interrupted"
    if _error(cells[answer]):
        return "error", f"the answer cell raised {_error(cells[answer])}"
    check = cells[answer + 1] if answer + 1 < len(cells) else None
    if check is not None and _error(check):
        return "no verdict", f"the check cell raised {_error(check)}"
    if check is None or check.get("execution_count") is None:
        return "no verdict", "the check cell did not run"
    return "no verdict", "the check cell printed no verdict"


def _learners(folders: list[Path]) -> dict[str, Path]:
    names = [f.resolve().name for f in folders]
    return {(name if names.count(name) == 1 else str(folder)): folder
            for name, folder in zip(names, folders, strict=True)}


def _execute(source: Path, target: Path, limit_s: float) -> str:
    """Run a copy of ``source`` into ``target`` in a fresh process; return how it ended."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cnnedu_grade_") as work:
        copy = Path(work) / source.name
        copy.write_bytes(source.read_bytes())              # the learner's file is only read
        env = dict(os.environ, **OFFLINE_ENV, CNNEDU_QUICK="1", MPLBACKEND="Agg")
        env.setdefault("CNNEDU_DATA", "bundled")
        # A model store of this run's own: one learner's lesson 04 (its training cell perhaps
        # edited) must not hand its model to another's lesson 07, nor write the grader's ~/.cache
        env["CNNEDU_MODEL_STORE"] = str(Path(work) / "models")
        try:
            done = subprocess.run([sys.executable, "-m", "cnnedu.grade_run", str(copy),
                                   str(Path(work) / "executed.ipynb"), str(limit_s)],
                                  cwd=work, env=env, capture_output=True, text=True,
                                  timeout=limit_s + 120)
            status = json.loads(done.stdout.strip().splitlines()[-1])["status"] \
                if done.returncode == 0 else f"failed: {done.stderr.strip()[-200:]}"
        except subprocess.TimeoutExpired:
            status = "time limit"
        executed = Path(work) / "executed.ipynb"
        if executed.exists():
            target.write_bytes(executed.read_bytes())
    return status


def grade(folders: list[Path], out: Path, read: bool = False, limit_s: float = 600,
          jobs: int = 1, lessons: list[str] | None = None) -> list[Row]:
    """Grade every learner folder; write ``out/grades.csv``, ``out/summary.txt`` and the executed
    copies in ``out/executed/``; return the rows (see the module's docstring)."""
    if limit_s <= 0:
        raise ValueError(f"limit_s must be positive, got {limit_s}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    for folder in folders:
        if not folder.is_dir():
            raise NotADirectoryError(f"each FOLDER must be a learner's directory, got {folder}")
        if out.resolve().is_relative_to(folder.resolve()):
            raise ValueError(f"out must not be inside a learner's folder ({folder}), got {out}")
    course = course_exercises()
    learners = _learners(folders)
    found = {name: learner_notebooks(folder) for name, folder in learners.items()}
    numbers = lessons or sorted({n for notebooks in found.values() for n in notebooks} & set(course))
    unknown = [n for n in numbers if n not in course]
    if unknown:
        raise ValueError(f"lessons must be among {sorted(course)}, got {unknown}")
    tasks = [(name, n, found[name][n]) for name in learners for n in numbers if n in found[name]]
    start = time.monotonic()

    def one(task: tuple[str, str, Path]) -> tuple[str, str, str, nbformat.NotebookNode]:
        name, number, path = task
        if read:
            return name, number, "read", nbformat.read(path, as_version=4)
        target = out / "executed" / name / path.name
        status = _execute(path, target, limit_s)
        notebook = nbformat.read(target, as_version=4) if target.exists() else nbformat.v4.new_notebook()
        return name, number, status, notebook

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = {(name, number): (status, notebook)
                for name, number, status, notebook in pool.map(one, tasks)}
    rows = []
    for name in learners:
        for number in numbers:
            lesson, ids = course[number]
            if (name, number) not in done:
                rows += [Row(name, lesson, exercise, "no notebook") for exercise in ids]
                continue
            status, notebook = done[(name, number)]
            notebook_name = found[name][number].name
            for exercise, (result, detail) in verdicts(notebook, ids).items():
                if result == "no verdict" and status == "time limit":
                    result, detail = "time limit", f"the notebook did not finish in {limit_s:g} s"
                rows.append(Row(name, notebook_name, exercise, result, detail, status))
    how = "read from stored outputs" if read else \
        f"run in quick mode, no network, {limit_s:g} s limit per notebook"
    write_report(rows, out, f"{how}; {time.monotonic() - start:.0f} s")
    return rows
