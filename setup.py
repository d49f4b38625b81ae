"""Ships the course's own files inside the package (pyproject.toml holds everything else).

The lesson notebooks, the photos with their licence list and the JupyterLab settings live at
the repository's top level (``notebooks/``, ``images/``, ``jupyter/``), where the README, the
tests and ``./course.sh`` use them. A wheel (or ``pip install .``) gets a copy of them under
``cnnedu/course/``, made here at build time, so the repository keeps one copy of every file and
an installed course is a whole course (``cnnedu.course_files`` finds either layout). An
editable install copies nothing: it reads the repository's files directly.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# folder at the top of the repository -> the files of it that ship (MANIFEST.in lists the same)
COURSE_FILES = {
    "notebooks": ("[0-9][0-9]_*.ipynb",),
    "images": ("*.png", "*.jpg", "README.md"),
    "jupyter": ("overrides.json", "ipython_kernel_config.json"),
}


class BuildWithCourseFiles(build_py):
    """``build_py`` that also copies the course files into ``cnnedu/course/`` of the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "cnnedu" / "course"
        for folder, patterns in COURSE_FILES.items():
            files = sorted({p for pattern in patterns for p in (ROOT / folder).glob(pattern)})
            if not files:
                raise FileNotFoundError(f"no course files {patterns} in {ROOT / folder}")
            (target / folder).mkdir(parents=True, exist_ok=True)
            for path in files:
                shutil.copy2(path, target / folder / path.name)


setup(cmdclass={"build_py": BuildWithCourseFiles})
