"""Lessons handed out by a command: `python -m cnnedu lessons DIR` copies this version's
notebooks and never overwrites a learner's copy; `python -m cnnedu data` fetches into the
right folder; a lesson opened without the package says how to install it."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from build_notebooks import parse

from cnnedu import __main__ as cli
from cnnedu import data, download, handout

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_lessons_are_copied_once_and_a_learners_copy_is_never_overwritten(tmp_path, capsys):
    folder = tmp_path / "class" / "my_lessons"               # made, parents too
    assert cli.main(["lessons", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [p.name for p in LESSONS]
    for lesson in LESSONS:
        assert (folder / lesson.name).read_bytes() == lesson.read_bytes()
    assert f"{len(LESSONS)} lesson(s) copied" in capsys.readouterr().out

    mine = folder / LESSONS[1].name
    mine.write_text("my answers")
    os.utime(mine, (1_000_000_000, 1_000_000_000))          # older than the course's version
    (folder / LESSONS[0].name).unlink()                      # a deleted lesson comes back
    assert cli.main(["lessons", str(folder)]) == 0
    out = capsys.readouterr().out
    assert mine.read_text() == "my answers"
    assert (folder / LESSONS[0].name).read_bytes() == LESSONS[0].read_bytes()
    assert f"1 lesson(s) copied into {folder}: {LESSONS[0].name}" in out
    assert f"{LESSONS[1].name}: the course's version is newer than your copy; yours is kept" in out
    assert f"./course.sh reset {LESSONS[1].name[:2]}" in out

    assert cli.main(["lessons", str(folder), "--quiet"]) == 0
    assert capsys.readouterr().out.strip().startswith(LESSONS[1].name)  # only the note is left


def test_copies_are_signed_as_trusted(tmp_path, monkeypatch):
    from nbformat.sign import NotebookNotary
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))   # its own store
    copies = [h.path for h in handout.copy_lessons(tmp_path / "my_lessons")]
    notary = NotebookNotary()
    assert notary.data_dir == str(tmp_path / "jupyter-data")
    assert all(notary.check_signature(nbformat.read(p, as_version=4)) for p in copies)
    unsigned = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    assert not notary.check_signature(unsigned)                  # signing is what trusts them


def test_lessons_refuses_a_file_as_the_folder(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="folder must be a directory.*notes.txt"):
        handout.copy_lessons(target)


def test_data_goes_to_the_checkouts_folder_or_where_asked(tmp_path, monkeypatch):
    targets = []
    monkeypatch.setattr(download, "ensure_full_data",
                        lambda target, timeout: targets.append((target, timeout)) or 0)
    assert cli.main(["data"]) == 0
    assert cli.main(["data", "--to", str(tmp_path), "--timeout", "2"]) == 0
    assert targets == [(data.COURSE_DATA_DIR, 5.0), (tmp_path, 2.0)]
    with pytest.raises(SystemExit, match="--timeout must be positive, got 0"):
        cli.main(["data", "--timeout", "0"])


@pytest.mark.slow
def test_python_dash_m_cnnedu_without_a_command_shows_the_commands():
    done = subprocess.run([sys.executable, "-m", "cnnedu"], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 2
    assert "lessons" in done.stderr and "data" in done.stderr


@pytest.mark.parametrize("source", sorted((ROOT / "scripts" / "notebook_src").glob("0*.py")),
                         ids=lambda p: p.stem[:2])
def test_first_cell_says_how_to_install_the_package_when_it_is_missing(source, monkeypatch):
    first = next(c for c in parse(source.read_text()).cells if c.cell_type == "code").source
    monkeypatch.setitem(sys.modules, "cnnedu", None)         # as in a kernel without the package
    with pytest.raises(ModuleNotFoundError) as missing:
        exec(compile(first, source.name, "exec"), {})
    message = str(missing.value)
    assert "cnnedu" in message and "%pip install" in message and "./course.sh lab" in message
    assert "Restart Kernel" in message


def _torch_index(tmp_path: Path, gpu: bool | None, override: str | None = None) -> str:
    """What ``./course.sh torch-index`` says with a fake ``nvidia-smi`` (None: not installed)."""
    bin_dir = tmp_path / f"bin-{gpu}-{override}".replace("/", "_").replace(":", "_")
    bin_dir.mkdir(parents=True)
    if gpu is not None:
        fake = bin_dir / "nvidia-smi"
        fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100'\nexit 0\n" if gpu else
                        "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
        fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    if override is not None:
        env["CNNEDU_TORCH_INDEX"] = override
    done = subprocess.run(["bash", str(ROOT / "course.sh"), "torch-index"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(os.uname().sysname != "Linux" or os.uname().machine != "x86_64",
                    reason="the CPU index is chosen on Linux x86-64 only")
def test_setup_takes_the_cpu_build_of_torch_without_an_nvidia_gpu(tmp_path):
    if Path("/usr/bin/nvidia-smi").exists():
        pytest.skip("a real nvidia-smi is on PATH")
    cpu = "https://download.pytorch.org/whl/cpu"
    assert _torch_index(tmp_path, gpu=None) == cpu            # no driver at all
    assert _torch_index(tmp_path, gpu=False) == cpu           # a driver but no GPU answers
    assert _torch_index(tmp_path, gpu=True) == ""             # a GPU: PyPI's CUDA build
    assert _torch_index(tmp_path, gpu=None, override="pypi") == ""
    assert _torch_index(tmp_path, gpu=True, override="https://example.org/whl") == \
        "https://example.org/whl"
