"""The README's commands: `lab` serves working copies of the lessons, `reset` restores one,
and a failed setup names its log."""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_course_sh_lab_serves_the_lessons(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "cnnedu-test-token"
    work = tmp_path / "my_lessons"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), CNNEDU_WORK_DIR=str(work))
    process = subprocess.Popen(
        ["bash", str(ROOT / "course.sh"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                url = f"http://127.0.0.1:{port}/api/contents?token={token}"
                with urllib.request.urlopen(url, timeout=2) as reply:
                    listing = json.loads(reply.read())
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(0.5)
        names = {item["name"] for item in listing["content"]}
        lessons = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
        assert {"00_start_here.ipynb", "01_pooling.ipynb"} <= lessons
        assert names == lessons                       # served from the learner's copies ...
        assert {p.name for p in work.iterdir()} == lessons      # ... made on first use
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
        # the course's settings (jupyter/overrides.json: no news prompt) are the page's defaults
        course = json.loads((ROOT / "jupyter" / "overrides.json").read_text())
        for plugin, values in course.items():
            url = f"http://127.0.0.1:{port}/lab/api/settings/{plugin}?token={token}"
            with urllib.request.urlopen(url, timeout=10) as reply:
                schema = json.loads(reply.read())["schema"]["properties"]
            assert {key: schema[key]["default"] for key in values} == values
        assert course["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_reset_restores_one_lesson_and_keeps_the_learners_copy(tmp_path):
    work = tmp_path / "my_lessons"
    work.mkdir()
    original = next((ROOT / "notebooks").glob("02_*.ipynb"))
    (work / original.name).write_text("my answers")
    env = dict(os.environ, CNNEDU_WORK_DIR=str(work))
    done = subprocess.run(["bash", str(ROOT / "course.sh"), "reset", "02"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (work / original.name).read_bytes() == original.read_bytes()
    backups = [p for p in work.iterdir() if p.name.endswith(".bak")]
    assert len(backups) == 1 and backups[0].read_text() == "my answers"
    wrong = subprocess.run(["bash", str(ROOT / "course.sh"), "reset", "99"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "no single lesson starts with '99'" in wrong.stderr


def test_failed_setup_names_its_log(tmp_path):
    """A setup that cannot create the environment says so and where pip's full output is."""
    for name in ("course.sh", "pyproject.toml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    done = subprocess.run(["bash", "course.sh", "setup"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHON="false"))
    assert done.returncode == 1
    assert "[1/3] Creating the environment" in done.stdout
    assert "Setup failed while creating .venv" in done.stderr and "out/setup.log" in done.stderr
    assert (tmp_path / "out" / "setup.log").is_file()


def test_lab_points_at_a_lesson_that_changed_after_the_learners_copy(tmp_path):
    """An updated lesson never overwrites the learner's copy: lab names the reset command."""
    work = tmp_path / "my_lessons"
    work.mkdir()
    lessons = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for lesson in lessons:
        (work / lesson.name).write_text("my answers")
        os.utime(work / lesson.name, (0, 0))          # older than every tracked lesson
    env = dict(os.environ, CNNEDU_WORK_DIR=str(work), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    # "--version" makes jupyter lab print its version and exit: the copies step has run by then
    done = subprocess.run(["bash", str(ROOT / "course.sh"), "lab", "--version"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"`./course.sh reset {lessons[0].name[:2]}`" in done.stdout
    assert all((work / lesson.name).read_text() == "my answers" for lesson in lessons)
