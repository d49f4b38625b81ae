"""Start and stop a real JupyterLab for browser tests and benchmarks (no pytest needed here).

The server runs on a free loopback port with a random token, on a scratch copy of the notebooks
(so runs never touch the committed outputs), with its own settings, workspace, config and
runtime folders, and ``CNNEDU_QUICK=1`` for its kernels (unless ``quick=False``). With
``solved=True`` the lessons' answer cells are replaced by the reference solutions
(solved_lessons.py; their ids in ``Lab.exercises``), and ``data`` sets ``CNNEDU_DATA`` for the
kernels (``"bundled"``: the subset inside the package). Its
settings are the course's own (jupyter/overrides.json, as ``./course.sh lab`` gives learners):
notebook windowing is off so every cell stays in the page, the preferred kernel starts without
asking, and no news prompt covers the page; ``settings`` (plugin -> values) adds to them or
replaces them, e.g. JupyterLab's dark theme.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from solved_lessons import solve_notebook_file

from cnnedu.jupyter_ws import SERVER_FLAG

ROOT = Path(__file__).resolve().parents[2]
# The notebooks the browser tests run: the tracked ones, or a folder named by
# CNNEDU_TEST_NOTEBOOKS (e.g. a copy with a deliberately broken cell, to see the suite fail fast).
NOTEBOOKS = Path(os.environ.get("CNNEDU_TEST_NOTEBOOKS") or ROOT / "notebooks")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-dev-shm-usage", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def course_settings() -> dict[str, dict]:
    """The course's JupyterLab settings, the same ``./course.sh lab`` gives learners: no news
    prompt, no kernel dialog, every cell kept in the page (one source: jupyter/overrides.json)."""
    return json.loads((ROOT / "jupyter" / "overrides.json").read_text())


def _write_settings(folder: Path, plugin: str, values: dict) -> None:
    """Write ``values`` for ``plugin`` ("@jupyterlab/notebook-extension:tracker") as user settings."""
    package, name = plugin.split(":")
    target = folder / package
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{name}.jupyterlab-settings").write_text(json.dumps(values))


class Lab:
    """A running JupyterLab: base URL, token, notebook folder; ``stop()`` ends it."""

    def __init__(self, base: Path, quick: bool = True, solved: bool = False,
                 data: str | None = None, settings: dict[str, dict] | None = None):
        self.base = base
        self.folder = base / "notebooks"
        shutil.copytree(NOTEBOOKS, self.folder)
        self.exercises: dict[str, list[str]] = {}   # lesson file name -> its exercise ids
        if solved:
            for lesson in sorted(self.folder.glob("[0-9][0-9]_*.ipynb")):
                self.exercises[lesson.name] = solve_notebook_file(lesson)
        extra, settings = settings or {}, base / "settings"
        for plugin, values in {**course_settings(), **extra}.items():
            _write_settings(settings, plugin, values)
        port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, CNNEDU_QUICK="1" if quick else "0",
                   JUPYTER_CONFIG_DIR=str(base / "config"),
                   JUPYTER_RUNTIME_DIR=str(base / "runtime"))
        env.setdefault("CNNEDU_MODEL_STORE", str(base / "models"))   # not the tester's ~/.cache
        if data is not None:
            env["CNNEDU_DATA"] = data
        self.log_path = base / "lab.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", f"--IdentityProvider.token={self.token}",
             "--ServerApp.allow_root=True", f"--ServerApp.root_dir={self.folder}",
             f"--LabApp.user_settings_dir={settings}",
             f"--LabApp.workspaces_dir={base / 'workspaces'}", "--LabApp.news_url=None",
             SERVER_FLAG],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=self.folder)
        self._wait_ready()

    def _wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}",
                                            timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"JupyterLab did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.5)

    def notebook_url(self, name: str) -> str:
        """Open ``name`` in a reset workspace: no tabs restored from earlier pages."""
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def _api(self, method: str, path: str):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every session and kernel, so one test's kernel never weighs on the next."""
        for session in self._api("GET", "/api/sessions"):
            self._api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self._api("GET", "/api/kernels"):
            self._api("DELETE", f"/api/kernels/{kernel['id']}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()
