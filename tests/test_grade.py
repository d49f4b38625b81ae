"""`python -m cnnedu grade`: learners' notebooks with right, wrong, missing and crashing answers,
run on copies (never changing the learners' files), with a time limit and no network, and
reported per learner and exercise in a CSV and a summary."""

import csv
import hashlib
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from grade_class import EXERCISE_COUNT, IDS, exercise_notebook, write

from cnnedu import grade as grade_module
from cnnedu.exercises import solution_cell
from cnnedu.grade import grade, verdicts
from cnnedu.grade_run import GRADER_TAG


def fingerprint(folder: Path) -> dict[str, tuple[str, float]]:
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
            for p in sorted(folder.rglob("*")) if p.is_file()}


WRONG_COUNT = "def count_windows(size, kernel_size, stride, padding=0, dilation=1):\n" \
              "    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    class_dir = tmp_path_factory.mktemp("class")
    everything = {i: solution_cell(i) for ids in IDS.values() for i in ids}
    write(class_dir / "alice", "00", exercise_notebook("00", everything))
    write(class_dir / "alice", "01", exercise_notebook("01", everything))
    write(class_dir / "bob", "00",
          exercise_notebook("00", {"00.1": "def relu(x):\n    return max(x, 0)"}))
    write(class_dir / "bob", "01", exercise_notebook("01", {
        "01.1": "answer_1 = 55", "01.2": WRONG_COUNT,
        "01.4": "answer_max = [[5., 8.], [9., 7.]]\nanswer_avg = None"}))
    write(class_dir / "carol", "00", exercise_notebook("00", {}))         # nothing answered, no 01
    write(class_dir / "dave", "00", exercise_notebook(
        "00", {"00.1": "def relu(x):\n    return x.clamp(min=0\n"},          # a syntax error
        extra="import urllib.request\nurllib.request.urlopen('http://example.com', timeout=5)"))
    folders = [class_dir / name for name in ("alice", "bob", "carol", "dave")]
    before = {str(f): fingerprint(f) for f in folders}
    out = tmp_path_factory.mktemp("report")
    rows = grade(folders, out, limit_s=300, jobs=2)
    return folders, before, out, {(r.learner, r.exercise): r for r in rows}


@pytest.mark.slow
def test_grade_sorts_right_wrong_missing_and_crashing_answers(graded):
    folders, _, out, rows = graded
    status = {key: row.status for key, row in rows.items()}
    assert all(status[("alice", i)] == "correct" for ids in IDS.values() for i in ids)
    assert status[("bob", "00.1")] == "error"
    assert rows[("bob", "00.1")].detail.startswith("00.1 relu raised RuntimeError: Boolean value")
    assert "| on case 1 of 4" in rows[("bob", "00.1")].detail
    assert status[("bob", "01.1")] == "wrong"
    assert rows[("bob", "01.1")].detail == "01.1 not quite: you said 55."
    assert status[("bob", "01.2")] == "wrong"
    assert re.match(r"01\.2 count_windows is wrong on case 1 of \d+: .* \| expected \d+, got \d+$",
                    rows[("bob", "01.2")].detail), rows[("bob", "01.2")].detail
    assert status[("bob", "01.3")] == "not answered"
    assert status[("bob", "01.4")] == "partly answered"
    assert status[("carol", "00.1")] == "not answered"
    assert all(status[("carol", i)] == "no notebook" for i in IDS["01"])
    assert status[("dave", "00.1")] == "error"
    assert rows[("dave", "00.1")].detail.startswith("the answer cell raised SyntaxError")
    table = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    assert len(table) == 4 * EXERCISE_COUNT   # every learner, every exercise of lessons 00 and 01
    assert {(r["learner"], r["exercise"], r["answered"], r["correct"]) for r in table} >= {
        ("alice", "01.3", "yes", "yes"), ("bob", "01.2", "yes", "no"), ("bob", "01.3", "no", "no")}
    text = (out / "summary.txt").read_text()
    assert re.search(r"^01\.2\s+1\s+1\s+0\s+0\s+0\s+2$", text, flags=re.M), text   # 2: no 01
    n = EXERCISE_COUNT
    assert re.search(rf"^alice\s+{n}\s+{n}\s+{n}$", text, flags=re.M), text


@pytest.mark.slow
def test_grading_never_changes_the_learners_files_and_has_no_network(graded):
    folders, before, out, _ = graded
    assert {str(f): fingerprint(f) for f in folders} == before
    executed = nbformat.read(out / "executed" / "dave" / "00_start_here.ipynb", as_version=4)
    assert GRADER_TAG in executed.cells[0].metadata["tags"]
    last = executed.cells[-1].outputs
    assert last and last[0].output_type == "error"
    assert "network access is off while the notebook is graded" in last[0].evalue


@pytest.mark.slow
def test_read_mode_gives_the_same_grades_from_executed_copies(graded, tmp_path):
    _, _, out, rows = graded
    learners = sorted((out / "executed").iterdir())
    again = grade(learners, tmp_path / "again", read=True)
    assert {(r.learner, r.exercise): r.status for r in again} == \
        {key: row.status for key, row in rows.items()}
    assert {r.run for r in again} <= {"read", ""}


def _cell(source: str, text: str = "", error: tuple[str, str] | None = None):
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    if text:
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
    if error:
        cell.outputs.append(nbformat.v4.new_output("error", ename=error[0], evalue=error[1],
                                                   traceback=[]))
    return cell


def test_verdicts_are_read_after_the_answer_cell_per_part_and_the_last_one_wins():
    notebook = nbformat.v4.new_notebook(cells=[
        _cell("check_code('00.1', wrong)",
              "❌ 00.1 relu is wrong on case 1 of 4: x\n   expected 1, got 2\n"),
        _cell("# EXERCISE 00.1\ndef relu(x): ..."),
        _cell("check_code('00.1', relu)",
              "✅ 00.1 relu is correct: it equals torch.relu on all 4 cases.\n"),
        _cell("# EXERCISE 01.4\nanswer_max = 1"),
        _cell("check(...)", "❌ 01.4 (max) not quite: you said 1.\n   Hint: no\n"
                            "✏️  01.4 (average) not answered yet: replace the None\n"),
        _cell("# EXERCISE 02.1\nanswer_1 = 3"),
        _cell("check(answer_1)", error=("NameError", "name 'check' is not defined")),
        _cell("# EXERCISE 03.1\n"),
    ])
    found = verdicts(notebook, ["00.1", "01.4", "02.1", "03.1", "04.1"])
    assert found["00.1"] == ("correct", "")                 # the demo's ❌ before it does not count
    assert found["01.4"] == ("wrong", "01.4 (max) not quite: you said 1.")
    assert found["02.1"] == ("no verdict",
                             "the check cell raised NameError: name 'check' is not defined")
    assert found["03.1"] == ("no verdict", "the check cell did not run")
    assert found["04.1"][0] == "no verdict" and "not in the notebook" in found["04.1"][1]


def test_grade_refuses_bad_arguments(tmp_path):
    learner = tmp_path / "alice"
    learner.mkdir()
    with pytest.raises(ValueError, match="out must not be inside a learner's folder"):
        grade([learner], learner / "report")
    with pytest.raises(NotADirectoryError, match="each FOLDER must be a learner's directory"):
        grade([tmp_path / "nobody"], tmp_path / "report")
    with pytest.raises(ValueError, match="limit_s must be positive, got 0"):
        grade([learner], tmp_path / "report", limit_s=0)
    with pytest.raises(ValueError, match=r"lessons must be among .*'99'"):
        grade([learner], tmp_path / "report", lessons=["99"])


def test_each_graded_notebook_gets_a_model_store_of_its_own(tmp_path, monkeypatch):
    """One learner's lesson 04 (its training cell perhaps edited) must not hand its model to
    another learner's lesson 07, nor fill the grader's own store; no kernel is needed to see
    what each run is given."""
    given = []

    def fake_run(args, cwd, env, **kwargs):
        given.append((Path(cwd), Path(env["CNNEDU_MODEL_STORE"])))
        return subprocess.CompletedProcess(args, 0, stdout='{"status": "ran"}\n', stderr="")

    monkeypatch.setattr(grade_module.subprocess, "run", fake_run)
    monkeypatch.setenv("CNNEDU_MODEL_STORE", str(tmp_path / "the graders own"))
    source = tmp_path / "07_inside_a_trained_network.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), source)
    assert [grade_module._execute(source, tmp_path / name / source.name, 60)
            for name in ("ann", "bob")] == ["ran", "ran"]
    (first_work, first_store), (second_work, second_store) = given
    assert first_store != second_store
    assert first_store.is_relative_to(first_work) and second_store.is_relative_to(second_work)
