"""An installed course is a whole course: the wheel and the sdist carry the lessons, the photos
with their licence list, the bundled data and the JupyterLab settings, and a wheel installed
into a fresh environment runs lessons 00 and 01 from a folder outside the repository."""

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from cnnedu import course_files, images

ROOT = Path(__file__).resolve().parents[1]
# the files an installed course needs, read from the repository (the truth the wheel must match)
EXPECTED = sorted(
    [f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")]
    + [f"images/{p.name}" for p in (ROOT / "images").iterdir()
       if p.suffix in (".png", ".jpg") or p.name == "README.md"]
    + ["jupyter/overrides.json", "jupyter/ipython_kernel_config.json"])


def test_course_path_prefers_the_installed_copy_and_names_both_places(tmp_path, monkeypatch):
    packaged, checkout = tmp_path / "pkg", tmp_path / "repo"
    (checkout / "images").mkdir(parents=True)
    monkeypatch.setattr(course_files, "PACKAGED", packaged)
    monkeypatch.setattr(course_files, "REPOSITORY", checkout)
    assert course_files.course_path("images") == checkout / "images"
    (packaged / "images").mkdir(parents=True)
    assert course_files.course_path("images") == packaged / "images"
    with pytest.raises(FileNotFoundError, match=r"notebooks.*pkg.*repo"):
        course_files.course_path("notebooks")
    with pytest.raises(ValueError, match="folder must be one of"):
        course_files.course_path("data")


def test_photos_come_from_the_course_unless_cnnedu_images_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNEDU_IMAGES", raising=False)
    assert images.images_dir() == ROOT / "images"          # a checkout: the repository's photos
    assert "astronaut" in images.list_photos()
    (tmp_path / "mine.png").write_bytes((ROOT / "images" / "brick.png").read_bytes())
    monkeypatch.setenv("CNNEDU_IMAGES", str(tmp_path))
    assert images.list_photos() == ["mine"]
    assert images.load_photo("mine").shape == (3, 512, 512)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """``python -m build``: an sdist, then a wheel built from that sdist (as PyPI users get it)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return next(out.glob("cnnedu-*.whl")), next(out.glob("cnnedu-*.tar.gz"))


@pytest.mark.slow
def test_wheel_and_sdist_carry_the_whole_course(dist):
    wheel, sdist = dist
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"cnnedu/course/{name}" for name in EXPECTED} <= names
    assert "cnnedu/data_bundle/fashion_mnist_subset.npz" in names
    assert {"cnnedu/__main__.py", "cnnedu/course_files.py", "cnnedu/handout.py"} <= names
    assert len(EXPECTED) >= 7 + 6 + 3
    for name in EXPECTED:                                    # the same bytes as the repository
        assert zipfile.ZipFile(wheel).read(f"cnnedu/course/{name}") == (ROOT / name).read_bytes()
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "cnnedu = cnnedu.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert set(EXPECTED) | {"setup.py", "cnnedu/data_bundle/fashion_mnist_subset.npz"} <= members


RUNNER = """
import json, sys, time
import nbformat
from nbclient import NotebookClient
report = {}
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, cnnedu, cnnedu.images\\n"
        "print(sys.prefix); print(cnnedu.__file__); print(cnnedu.images.images_dir())"))
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": "."}}).execute()
    report[path] = {"seconds": time.perf_counter() - start,
                    "probe": "".join(o.get("text", "") for o in nb.cells[-1].outputs).split()}
print(json.dumps(report))
"""


@pytest.mark.slow
def test_installed_wheel_runs_lessons_00_and_01_outside_the_repository(dist, tmp_path):
    """A fresh environment gets only the wheel (``--no-deps``: torch and the rest are borrowed from
    this environment through a .pth file, not downloaded); the lessons are handed out by the
    installed console script into a temporary folder and run from there in quick mode."""
    wheel, _ = dist
    fresh = tmp_path / "fresh"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CNNEDU_IMAGES")}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "--force-reinstall", "--quiet", str(wheel)],
                   check=True, timeout=300, env=env)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    fresh_site = subprocess.run([str(python), "-c", purelib], capture_output=True, text=True,
                                check=True).stdout.strip()
    borrowed = sysconfig.get_paths()["purelib"]
    (Path(fresh_site) / "zz_borrowed_dependencies.pth").write_text(borrowed + "\n")
    env.update(CNNEDU_QUICK="1", CNNEDU_DATA="bundled", CNNEDU_DEVICE="cpu", OMP_NUM_THREADS="1")
    handed = subprocess.run([str(fresh / "bin" / "cnnedu"), "lessons", "my_lessons"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert handed.returncode == 0, handed.stderr
    lessons = tmp_path / "my_lessons"
    assert sorted(p.name for p in lessons.iterdir()) == sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    paths = [str(lessons / "00_start_here.ipynb"), str(lessons / "01_pooling.ipynb")]
    done = subprocess.run([str(python), "-c", RUNNER, *paths], cwd=lessons, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for path in paths:
        prefix, package, photos = report[path]["probe"]
        assert Path(prefix) == fresh                                  # the fresh environment's kernel
        assert Path(package).is_relative_to(Path(fresh_site))         # ... ran the installed cnnedu
        assert Path(photos) == Path(fresh_site) / "cnnedu" / "course" / "images"
        assert not Path(package).is_relative_to(ROOT)
        print(f"{Path(path).name}: {report[path]['seconds']:.0f} s in the fresh environment")
