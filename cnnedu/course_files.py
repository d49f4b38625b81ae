"""Where the course's own files are: the lesson notebooks, the photos and the JupyterLab settings.

An installed course (a wheel, ``pip install .``) carries copies of them inside the package, in
``cnnedu/course/`` (``setup.py`` makes them at build time); a source checkout (and an editable
install) has them at the repository's top level: ``notebooks/``, ``images/``, ``jupyter/``.
Both layouts are the same below those folders, so every caller asks for ``course_path(folder)``.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "course"
REPOSITORY = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "images", "jupyter")


def course_path(folder: str) -> Path:
    """The course folder ``folder`` (one of :data:`FOLDERS`): the installed copy if there is one,
    else the repository's. A FileNotFoundError names both places that were looked at."""
    if folder not in FOLDERS:
        raise ValueError(f"folder must be one of {FOLDERS}, got {folder!r}")
    for base in (PACKAGED, REPOSITORY):
        if (base / folder).is_dir():
            return base / folder
    raise FileNotFoundError(f"the course's {folder}/ is neither in the installed package "
                            f"({PACKAGED / folder}) nor in a source checkout ({REPOSITORY / folder}); "
                            "reinstall cnnedu (pip install cnnedu) or run from the repository")


def lesson_notebooks() -> list[Path]:
    """The lesson notebooks (``NN_name.ipynb``) of this version of the course, in order."""
    return sorted(course_path("notebooks").glob("[0-9][0-9]_*.ipynb"))
