"""What the lessons' full runs found, quoted by their quick-mode runs.

A quick-mode run (a few batches, or a second of training) is too short to judge anything, and
must not print a verdict under prose that describes the full run. So a quick run prints "too
short to judge" and quotes what the committed full run printed, from this table. Each entry is a
verdict line copied from the full-run outputs of the lesson's committed notebook, and
``tests/test_findings.py`` checks that every entry still appears there word for word: when a
rebuild changes the verdict, the test fails until this table is updated.
"""

from __future__ import annotations

NOT_RECORDED = ("not recorded yet: run this lesson in full mode (QUICK = False) to see it, or "
                "read the committed notebook's output here")

FULL_RUN: dict[str, dict[str, str]] = {
    "02": {},
    "04": {},
    "05": {},
    "08": {},
}


def full_run_found(lesson: str, key: str) -> str:
    """The full run's verdict for ``key`` in ``lesson`` (e.g. ``"05"``, ``"ResNet-8 mini vs
    AlexNet"``), or a note that it is not recorded yet."""
    if lesson not in FULL_RUN:
        raise ValueError(f"lesson must be one of {sorted(FULL_RUN)}, got {lesson!r}")
    return FULL_RUN[lesson].get(key, NOT_RECORDED)
