"""Lessons handed out: copy this version's lesson notebooks into a learner's folder.

``python -m cnnedu lessons DIR`` and ``./course.sh lab`` (its ``my_lessons/``) both call
:func:`copy_lessons`, so a learner gets the same rule everywhere: a lesson they have no copy of
is copied; a copy they have is never overwritten (their answers live there), and if the
course's version is newer they are told how to take it.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.sign import NotebookNotary

from cnnedu.course_files import lesson_notebooks

NEWER_NOTE = ("{name}: the course's version is newer than your copy; yours is kept. To take the "
              "new one, rename your copy and run this again (`./course.sh reset {number}` does "
              "that).")


@dataclass(frozen=True)
class Handed:
    """What happened to one lesson: ``status`` is "copied", "kept" or "kept, newer available"."""

    name: str
    status: str
    path: Path


def copy_lessons(folder: str | Path, sources: list[Path] | None = None) -> list[Handed]:
    """Copy each lesson notebook (default: this version's) that ``folder`` does not have yet.

    ``folder`` is made if missing; an existing copy is never touched. Returns one
    :class:`Handed` per lesson, in lesson order.
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"folder must be a directory, got the file {folder}")
    sources = lesson_notebooks() if sources is None else sources
    if not sources:
        raise FileNotFoundError("no lesson notebooks found in this installation of cnnedu")
    folder.mkdir(parents=True, exist_ok=True)
    handed = []
    for source in sources:
        copy = folder / source.name
        if not copy.exists():
            shutil.copyfile(source, copy)
            trust(copy)
            handed.append(Handed(source.name, "copied", copy))
        elif source.stat().st_mtime > copy.stat().st_mtime and source.read_bytes() != copy.read_bytes():
            handed.append(Handed(source.name, "kept, newer available", copy))
        else:
            handed.append(Handed(source.name, "kept", copy))
    return handed


def trust(path: Path) -> bool:
    """Sign a fresh copy of a course notebook as trusted (as ``jupyter trust`` does), so Jupyter
    shows its stored widget and HTML outputs and does not log "Notebook ... is not trusted" at
    every open. Best effort: False if the signature store cannot be written."""
    try:
        NotebookNotary().sign(nbformat.read(path, as_version=4))
    except (OSError, sqlite3.Error):
        return False
    return True


def report(handed: list[Handed], folder: str | Path, quiet: bool = False) -> str:
    """The lines a learner reads: what was copied, what was kept and which copies are older."""
    copied = [h.name for h in handed if h.status == "copied"]
    kept = len(handed) - len(copied)
    lines = [] if quiet and not copied else [
        f"{len(copied)} lesson(s) copied into {folder}" + (f": {', '.join(copied)}" if copied else "")
        + (f"; {kept} copies of yours kept unchanged" if kept else "")]
    lines += [NEWER_NOTE.format(name=h.name, number=h.name[:2])
              for h in handed if h.status == "kept, newer available"]
    return "\n".join(lines)
