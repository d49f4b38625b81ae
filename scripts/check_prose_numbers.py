"""Check that every number a lesson's prose states about a result is printed by the lesson.

    python scripts/check_prose_numbers.py notebooks/02_alexnet.ipynb [more.ipynb ...]

The course promises that each claim is shown by code the learner runs; a number written in
markdown that no cell prints is a claim ahead of its evidence (and goes stale when a rerun
changes the output). ``unbacked_numbers(path)`` lists such numbers for any notebook.

What counts as a result number (the rule, kept short on purpose instead of an allowlist):

* Checked: a number in a markdown cell's prose, outside inline code, code blocks, LaTeX
  (``$...$``), link targets and arXiv ids.
* Not checked, because they name or index things rather than report a measurement:
  - numbers glued to a word: ``ResNet-18``, ``conv1``, ``top-5``, ``CIFAR-10``, ``fp16``;
  - shapes ``28×28`` / ``3x3`` (a number next to ``×``/``x`` and another number);
  - a label after a naming word: lesson, section, exercise, part, chapter, figure, table, cell,
    stage, block, layer, seed, step (``step 3``), equation, and chained numbers after it
    (``lessons 01-04``, ``seeds 0, 1 and 2``), unless a count follows (``step 32 of 40``);
  - issue and pull-request numbers (``#906``); list and heading markers (``1.`` at the start
    of a line or heading);
  - years (a bare four-digit integer from 1900 to 2099) and version numbers (two dots);
  - bare integers below 100 (counts and settings: 3 seeds, 4 epochs, 64 channels), unless they
    are written as a count of successes ``k of n`` / ``k/n``, with ``%``, as a ratio ``90×``, or
    with a unit of time (ms, s, min, h); those are results and are checked.
* Backed: the number appears in a text output of the same notebook, as printed or rounded to
  the prose's precision (prose 0.92 matches 0.9231; 90× matches 89.6; 1,600 matches 1,628 when
  the trailing zeros are rounding), ignoring sign; a percentage may be printed as a fraction
  (92 % matches 0.923) and a fraction as a percentage, and a number followed by k, M or G
  (thousand, million, billion) may be printed in full (61 M matches 61,100,840). The same
  matching applies to the numbers in the lesson's code cells (a setting the learner can read
  there: lr 0.05, ``12_000`` images) and to the literature facts listed for the lesson
  (``cnnedu.facts.LITERATURE``), which the lesson shows with their source.

A number that illustrates a definition rather than reports a result ("a confidence of 0.8
should be right 80 % of the time") belongs in LaTeX or a code span, where it reads as a
formula: ``$0.8$``.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import nbformat

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
LABEL_WORDS = ("lessons?|sections?|exercises?|parts?|chapters?|figures?|fig\\.|tables?|cells?|"
               "stages?|blocks?|layers?|seeds?|steps?|equations?|eq\\.|items?|rows?|columns?|"
               "notebooks?|issues?|tests?|cases?|points?")
LABEL_RUN = re.compile(
    rf"\b(?:{LABEL_WORDS})\s+(?:{NUMBER})(?:\s*(?:-|–|,|and|or|to|&)\s*(?:{NUMBER}))*",
    re.IGNORECASE)
UNITS = re.compile(r"\s?(?:%|×|x\b|ms\b|s\b|min\b|h\b|µs\b|us\b)")
MAGNITUDES = ((r"\s?(?:k\b|thousand)", Decimal(10) ** 3), (r"\s?(?:M\b|million)", Decimal(10) ** 6),
              (r"\s?(?:G\b|GFLOP|billion)", Decimal(10) ** 9))


@dataclass(frozen=True)
class Unbacked:
    """A prose number no output, code cell or literature fact of the notebook backs."""

    notebook: str
    cell: int  # position among all cells, counting from 0
    number: str
    context: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell}: {self.number!r} in “…{self.context}…”"


def _strip_non_prose(text: str) -> str:
    """Blank out code, LaTeX, link targets and ids, keeping positions (for the context shown)."""
    def blank(m: re.Match) -> str:
        return " " * len(m.group(0))
    for pattern in (r"```.*?```", r"`[^`]*`", r"\$\$.*?\$\$", r"\$[^$\n]*\$",
                    r"\]\([^)]*\)", r"https?://\S+", r"arXiv:\s*\S+", r"<[^>]+>", r"#\d+",
                    r"\d+(?:\.\d+){2,}",
                    r"(?m)^\s*#+\s*\d+(?:\.\d+)*\.?", r"(?m)^\s*\d+[.)]\s"):
        text = re.sub(pattern, blank, text, flags=re.S | re.IGNORECASE)
    def blank_label(m: re.Match) -> str:  # "step 32 of 40" is a count, not a label
        return m.group(0) if re.match(r"\s*(?:of|/)\s*\d", text[m.end():]) else blank(m)
    return LABEL_RUN.sub(blank_label, text)


def prose_numbers(markdown: str) -> list[tuple[str, str, str]]:
    """The result numbers of one markdown cell as ``(number, text after it, context)`` (rule above)."""
    text = _strip_non_prose(markdown)
    found = []
    for m in re.finditer(NUMBER, text):
        start, end = m.span()
        before, after = text[max(0, start - 2):start], text[end:end + 12]
        if re.search(r"[A-Za-z_]-?\Z", before) or re.match(r"[A-Za-z_]", after[:1]) and not (
                UNITS.match(after)):
            continue  # glued to a word: ResNet-18, conv1, fp16, 2D
        if re.match(r"\s?[×x]\s?\d", after) or re.search(r"\d\s?[×x]\s?\Z", text[:start][-3:]):
            continue  # shape 28×28
        value = m.group(0).replace(",", "")
        integer = "." not in value
        marked = bool(UNITS.match(after)) or bool(re.match(r"\s*(?:of|/)\s*\d", after)) or bool(
            re.search(r"\d\s*(?:of|/)\s*\Z", text[max(0, start - 6):start]))
        if integer and len(value) == 4 and 1900 <= int(value) <= 2099 and "," not in m.group(0):
            continue  # a year
        if integer and int(value) < 100 and not marked:
            continue  # a count or a setting
        context = " ".join(markdown[max(0, start - 40):end + 30].split())
        found.append((m.group(0), text[end:end + 12], context))
    return found


def _output_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(out["text"])
        for mime in ("text/plain", "text/html", "text/markdown"):
            if mime in out.get("data", {}):
                parts.append(out["data"][mime])
    return "\n".join(parts)


def _values(text: str) -> set[Decimal]:
    """The numbers printed in ``text``; a percentage also as a fraction (92.3 % -> 0.923)."""
    values = set()
    text = re.sub(r"(?<=\d)_(?=\d)", "", text)  # Python's 12_000
    for m in re.finditer(rf"({NUMBER})(\s?%)?", text):
        value = abs(Decimal(m.group(1).replace(",", "")))
        values.add(value)
        if m.group(2):
            values.add(value / 100)
    return values


def _rounds_to(value: Decimal, target: Decimal, quantum: Decimal) -> bool:
    for rounding in (ROUND_HALF_UP, ROUND_HALF_EVEN):
        if (value / quantum).quantize(Decimal(1), rounding=rounding) * quantum == target:
            return True
    return False


def readings(number: str, after: str) -> list[tuple[Decimal, Decimal]]:
    """The values a prose ``number`` may stand for, each with the precision it was written to.

    ``after`` is the text right after the number: ``%`` makes it also a fraction (92 % may be
    printed as 0.92), a magnitude word makes it a multiple (61 M may be printed as 61,100,840).
    """
    digits = number.replace(",", "")
    target = abs(Decimal(digits))
    if "." in digits:
        quantum = Decimal(1).scaleb(-len(digits.split(".")[1]))
    else:
        zeros = len(digits) - len(digits.rstrip("0"))
        significant = len(digits.lstrip("0")) - zeros
        quantum = Decimal(1).scaleb(zeros if significant >= 2 else 0)
    found = [(target, quantum)]
    if re.match(r"\s?%", after):
        found.append((target / 100, quantum / 100))
    for pattern, scale in MAGNITUDES:
        if re.match(pattern, after):
            found.append((target * scale, quantum * scale))
    return found


def is_backed(number: str, after: str, values: set[Decimal]) -> bool:
    """Whether a prose ``number`` (``after``: the text after it) reads as one of ``values``."""
    return any(_rounds_to(v, target, quantum) for target, quantum in readings(number, after)
               for v in values)


def unbacked_numbers(path: Path | str, facts: list[str] | None = None) -> list[Unbacked]:
    """Every result number in ``path``'s markdown that nothing in the notebook backs.

    ``facts``: literature values (as strings, e.g. ``"15.3"``) the lesson shows with their
    source; None means the list in ``cnnedu.facts.LITERATURE`` for the notebook's two-digit
    lesson number (none when the lesson has no entry).
    """
    path = Path(path)
    if facts is None:
        from cnnedu.facts import literature_values
        facts = literature_values(path.name[:2])
    notebook = nbformat.read(path, as_version=4)
    printed = set().union(*(_values(_output_text(c)) for c in notebook.cells
                            if c.cell_type == "code"))
    code = set().union(*(_values(c.source) for c in notebook.cells if c.cell_type == "code"))
    values = printed | code | {abs(Decimal(f.replace(",", ""))) for f in facts}
    missing = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for number, after, context in prose_numbers(cell.source):
            if not is_backed(number, after, values):
                missing.append(Unbacked(path.name, index, number, context))
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    missing = [m for path in args.notebooks for m in unbacked_numbers(path)]
    for m in missing:
        print(m)
    print(f"{len(missing)} prose number(s) not printed by their lesson")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
