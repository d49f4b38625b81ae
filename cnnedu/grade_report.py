"""The grade report's files: ``grades.csv`` (one row per learner and exercise) and ``summary.txt``
(counts per exercise and per learner). :mod:`cnnedu.grade` fills the rows."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ANSWERED = ("correct", "wrong", "error", "partly answered")
COLUMNS = ("learner", "notebook", "exercise", "status", "answered", "correct", "detail", "run")


@dataclass(frozen=True)
class Row:
    """One learner's result on one exercise."""

    learner: str
    notebook: str
    exercise: str
    status: str
    detail: str = ""
    run: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"learner": self.learner, "notebook": self.notebook, "exercise": self.exercise,
                "status": self.status, "answered": "yes" if self.status in ANSWERED else "no",
                "correct": "yes" if self.status == "correct" else "no", "detail": self.detail,
                "run": self.run}


def summary(rows: list[Row], how: str = "") -> str:
    """Counts per exercise and per learner, and the notebooks that did not run to the end."""
    learners = sorted({r.learner for r in rows})
    exercises = sorted({r.exercise for r in rows})
    lines = [f"{len(learners)} learner(s), {len(exercises)} exercise(s)" + (f" ({how})" if how else ""),
             "", f"{'exercise':10s} {'correct':>7s} {'wrong':>5s} {'error':>5s} {'partly':>6s} "
             f"{'not answered':>12s} {'other':>5s}"]
    for exercise in exercises:
        count = Counter(r.status for r in rows if r.exercise == exercise)
        other = sum(count.values()) - sum(count[s] for s in (*ANSWERED, "not answered"))
        lines.append(f"{exercise:10s} {count['correct']:7d} {count['wrong']:5d} {count['error']:5d} "
                     f"{count['partly answered']:6d} {count['not answered']:12d} {other:5d}")
    lines += ["", f"{'learner':20s} {'correct':>7s} {'answered':>8s} {'of':>4s}"]
    for learner in learners:
        mine = [r for r in rows if r.learner == learner]
        lines.append(f"{learner[:20]:20s} {sum(r.status == 'correct' for r in mine):7d} "
                     f"{sum(r.status in ANSWERED for r in mine):8d} {len(mine):4d}")
    stopped = sorted({f"{r.learner}/{r.notebook} ({r.run})" for r in rows
                      if r.run not in ("", "ran", "read")})
    if stopped:
        lines += ["", "notebooks that did not run to the end: " + ", ".join(stopped)]
    return "\n".join(lines)


def write_report(rows: list[Row], out: Path, how: str = "") -> None:
    """``out/grades.csv`` (one row per learner and exercise) and ``out/summary.txt``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(r.as_dict() for r in rows)
    (out / "summary.txt").write_text(summary(rows, how) + "\n", encoding="utf-8")
