"""Renames that keep a lesson's stored outputs: a code cell may differ from the stored one only
by the renames asked for, checked token by token.

``build_notebooks.py --keep-outputs --renamed SMOKE=QUICK`` carries the stored outputs of a
notebook whose code cells changed only by a rename, without a (long) rerun. What counts as a
rename, and why it cannot change an output:

* ``OLD=NEW`` with two identifiers renames the Python names (``tokenize`` NAME tokens, whole
  words, never text inside strings) and the same whole word inside comments. A program with
  every occurrence of a name renamed computes the same, unless NEW was already a name of its
  own (the two would merge): that is allowed only inside the one cell that binds OLD, where the
  merge is visible (``QUICK = None; SMOKE = quick_mode(QUICK)`` becoming
  ``QUICK = None; QUICK = quick_mode(QUICK)``), and refused anywhere else.
* ``OLD=NEW`` with text that is not an identifier (``smoke mode=quick mode``) replaces that text
  inside string literals and comments. A string can reach an output, so a cell whose literal
  changed keeps its stored outputs only if none of them contains OLD: the text was not printed in
  the stored run (e.g. ``print("smoke mode" if SMOKE else "full mode")`` in a full-mode run).

Anything else that differs (another token, a cell the renames do not explain) is refused, naming
the cell.
"""

from __future__ import annotations

import io
import re
import tokenize

import nbformat

_STRINGS = {tokenize.STRING} | ({tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE")
                                else set())


def parse_renames(pairs: list[str]) -> dict[str, str]:
    """``["SMOKE=QUICK", "smoke mode=quick mode"]`` -> ``{"SMOKE": "QUICK", ...}``."""
    renames = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new or old == new:
            raise SystemExit(f"--renamed takes OLD=NEW with two different non-empty sides, "
                             f"got {pair!r}")
        if old.isidentifier() != new.isidentifier():
            raise SystemExit(f"--renamed {pair!r}: both sides must be identifiers, or both text")
        renames[old] = new
    return renames


def _identifiers(renames: dict[str, str]) -> dict[str, str]:
    return {old: new for old, new in renames.items() if old.isidentifier()}


def rename_code(source: str, renames: dict[str, str]) -> tuple[str, set[str]]:
    """``source`` with the renames applied, and the text renames that changed a string literal.

    Raises ``tokenize.TokenError`` / ``SyntaxError`` where the cell does not tokenize as Python.
    """
    names = _identifiers(renames)
    texts = {old: new for old, new in renames.items() if old not in names}
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits, literal_changes = [], set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        new = token.string
        if token.type == tokenize.NAME and token.string in names:
            new = names[token.string]
        elif token.type == tokenize.COMMENT:
            for old, replacement in names.items():
                new = re.sub(rf"\b{re.escape(old)}\b", replacement, new)
            for old, replacement in texts.items():
                new = new.replace(old, replacement)
        elif token.type in _STRINGS:
            for old, replacement in texts.items():
                if old in new:
                    new, _ = new.replace(old, replacement), literal_changes.add(old)
        if new != token.string:
            start = offsets[token.start[0] - 1] + token.start[1]
            end = offsets[token.end[0] - 1] + token.end[1]
            edits.append((start, end, new))
    for start, end, new in reversed(edits):
        source = source[:start] + new + source[end:]
    return source, literal_changes


def names_in(source: str) -> set[str]:
    """The NAME tokens of ``source`` (empty when it does not tokenize)."""
    try:
        return {t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type == tokenize.NAME}
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return set()


def _output_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(str(output.get("text", "")))
        parts.extend(str(value) for value in output.get("data", {}).values())
        parts.append(str(output.get("evalue", "")))
    return "\n".join(parts)


def explain_by_renames(built: list[str], stored: list[nbformat.NotebookNode],
                       renames: dict[str, str], normalise=lambda source: source,
                       ) -> tuple[list[str], list[str]]:
    """Check every differing code cell against the renames: (notes, refusals), one line each.

    ``built`` are the new code cells' sources, ``stored`` the stored code cells (same count);
    ``normalise`` is applied to both sources before comparing (it drops the nbval marker).
    """
    notes, refusals = [], []
    names = _identifiers(renames)
    for i, (new, cell) in enumerate(zip(built, stored, strict=True)):
        new, old = normalise(new), normalise(cell.source)
        if new == old:
            continue
        try:
            renamed, literal_changes = rename_code(old, renames)
        except (tokenize.TokenError, SyntaxError, IndentationError) as error:
            refusals.append(f"code cell {i}: differs and does not tokenize ({error})")
            continue
        if renamed != new:
            refusals.append(f"code cell {i}: differs by more than the renames {renames}")
            continue
        shown = _output_text(cell)
        for old in sorted(literal_changes):
            if old in shown:
                refusals.append(f"code cell {i}: its string {old!r} became {renames[old]!r} and "
                                f"its stored output shows {old!r}: rerun it")
        notes.append(f"code cell {i}: same code up to the renames")
    for old, new in names.items():
        holders = [i for i, cell in enumerate(stored) if new in names_in(cell.source)]
        binders = [i for i, cell in enumerate(stored) if old in names_in(cell.source)]
        if holders and (len(holders) > 1 or holders[0] not in binders):
            refusals.append(f"{new} is already a name in code cells {holders}: renaming {old} to "
                            f"it would merge two names outside the one cell that uses {old}")
        elif holders:
            notes.append(f"code cell {holders[0]}: {old} and the existing {new} merge into one "
                         f"name in this cell")
    return notes, refusals
