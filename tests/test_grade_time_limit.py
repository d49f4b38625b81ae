"""`python -m cnnedu grade --limit`: a notebook stopped at its time limit keeps the verdicts it
reached before it (a file of its own: it waits out the limit, asleep, beside other tests)."""

import csv

import pytest
from grade_class import exercise_notebook, write

from cnnedu import __main__ as cli
from cnnedu.exercises import solution_cell


@pytest.mark.slow
def test_a_notebook_past_its_time_limit_keeps_the_verdicts_it_reached(tmp_path):
    folder = tmp_path / "erin"
    # past the limit asleep rather than in a busy loop: the same for the grader, no core taken
    write(folder, "01", exercise_notebook("01", {"01.1": solution_cell("01.1"),
                                                "01.2": "import time\ntime.sleep(3600)"}))
    assert cli.main(["grade", str(folder), "--out", str(tmp_path / "report"), "--limit", "40"]) == 0
    rows = {r["exercise"]: r for r in csv.DictReader(open(tmp_path / "report" / "grades.csv"))}
    assert rows["01.1"]["status"] == "correct"
    assert [rows[i]["status"] for i in ("01.2", "01.3", "01.4")] == ["time limit"] * 3
    assert rows["01.2"]["run"] == "time limit"
    assert "did not run to the end: erin/01_pooling.ipynb (time limit)" in \
        (tmp_path / "report" / "summary.txt").read_text()
