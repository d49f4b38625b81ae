"""The full-run findings that quick-mode runs quote are still what the committed notebooks print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnedu.findings import FULL_RUN, NOT_RECORDED, full_run_found

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _outputs(lesson: str) -> str:
    (path,) = NOTEBOOKS.glob(f"{lesson}_*.ipynb")
    cells = json.loads(path.read_text())["cells"]
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            texts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(texts)


@pytest.mark.parametrize("lesson", sorted(FULL_RUN))
def test_every_quoted_finding_is_printed_by_the_committed_full_run(lesson):
    printed = _outputs(lesson)
    stale = [key for key, text in FULL_RUN[lesson].items() if text not in printed]
    assert not stale, (f"lesson {lesson}: the committed run no longer prints the findings of "
                       f"{stale}; copy the new verdict lines into cnnedu/findings.py")


def test_a_missing_finding_says_how_to_see_it_and_a_wrong_lesson_is_refused():
    assert full_run_found("05", "no such comparison") == NOT_RECORDED
    with pytest.raises(ValueError, match="lesson must be one of"):
        full_run_found("99", "x")
