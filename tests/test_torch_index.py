"""Which PyTorch build setup installs (course.sh's torch_index, shown by
``./course.sh torch-index [--dry-run]``): the CPU build from PyTorch's own index on Linux x86-64
without an NVIDIA GPU, PyPI's default build where a GPU answers ``nvidia-smi`` or on another
platform, and ``CNNEDU_TORCH_INDEX`` above both. The machine is faked with ``nvidia-smi`` and
``uname`` scripts first on PATH, so every branch runs on any machine (CI takes
``CNNEDU_TORCH_INDEX=pypi`` for its own setup, so it would never reach the CPU branch).

The last test asks PyTorch's CPU index for the installed torch version (network; skipped with
the reason when the index cannot be reached).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"     # PyTorch's documented CPU-only index


def _fake_machine(folder: Path, system: str, gpu: bool | None) -> Path:
    """A PATH folder with ``uname`` printing ``system`` and an ``nvidia-smi`` that lists a GPU
    (gpu=True), fails as on a machine with the driver but no GPU (False), or is absent (None,
    and then the folder is the whole PATH: no real nvidia-smi is found either)."""
    folder.mkdir(parents=True)
    (folder / "uname").write_text(f"#!/bin/sh\necho '{system}'\n")
    if gpu is not None:
        body = "echo 'GPU 0: NVIDIA H200 (UUID: GPU-fake)'; exit 0" if gpu else (
            "echo 'NVIDIA-SMI has failed because it could not communicate with the driver'; exit 9")
        (folder / "nvidia-smi").write_text(f"#!/bin/sh\n{body}\n")
    for tool in ("dirname",):                       # what course.sh runs before its commands
        (folder / tool).symlink_to(shutil.which(tool))
    for script in folder.iterdir():
        script.chmod(0o755)
    return folder


def _course(tmp_path: Path, *args: str, system: str = "Linux x86_64", gpu: bool | None = False,
            override: str | None = None) -> str:
    fake = _fake_machine(tmp_path / "bin", system, gpu)
    env = {k: v for k, v in os.environ.items() if k != "CNNEDU_TORCH_INDEX"}
    env["PATH"] = str(fake) if gpu is None else f"{fake}{os.pathsep}{env['PATH']}"
    if override is not None:
        env["CNNEDU_TORCH_INDEX"] = override
    done = subprocess.run(["/bin/bash", str(ROOT / "course.sh"), "torch-index", *args], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("gpu", [False, None], ids=["nvidia-smi fails", "no nvidia-smi"])
def test_no_gpu_on_linux_takes_the_cpu_index(tmp_path, gpu):
    assert _course(tmp_path, gpu=gpu) == CPU_INDEX
    assert f"--index-url {CPU_INDEX} " in _course(tmp_path / "again", "--dry-run", gpu=gpu)


def test_dry_run_prints_the_pip_command_with_pyprojects_torch_ranges(tmp_path):
    line = _course(tmp_path, "--dry-run")
    assert line.startswith("would run: python -m pip install ")
    words = shlex.split(line.removeprefix("would run: "))
    assert words[words.index("--index-url") + 1] == CPU_INDEX
    wanted = {r.name: r for r in map(Requirement, tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["dependencies"])}
    asked = [Requirement(w) for w in words if w.startswith(("torch>", "torch=", "torchvision"))]
    assert {r.name for r in asked} == {"torch", "torchvision"}
    for requirement in asked:                    # the same ranges as the package declares
        assert requirement.specifier == wanted[requirement.name].specifier, requirement


@pytest.mark.parametrize("system", ["Linux x86_64", "Linux aarch64", "Darwin arm64"])
def test_gpu_or_other_platform_keeps_pypis_default(tmp_path, system):
    gpu = system == "Linux x86_64"               # on x86-64 Linux only a GPU changes the choice
    assert _course(tmp_path, system=system, gpu=gpu) == ""
    assert "nothing separate" in _course(tmp_path / "again", "--dry-run", system=system, gpu=gpu)


def test_explicit_override_wins_both_ways(tmp_path):
    mirror = "https://mirror.example.org/whl/cpu"
    assert _course(tmp_path, gpu=True, override=mirror) == mirror
    assert _course(tmp_path / "b", gpu=False, override="pypi") == ""
    assert "nothing separate" in _course(tmp_path / "c", "--dry-run", gpu=False, override="pypi")
    assert f"--index-url {mirror} " in _course(tmp_path / "d", "--dry-run", gpu=True,
                                              override=mirror)


def _reachable(host: str, seconds: float = 5) -> str | None:
    """None if ``host``:443 answers within ``seconds``, else why not."""
    try:
        with socket.create_connection((host, 443), timeout=seconds):
            return None
    except OSError as error:
        return f"{host} cannot be reached from this machine ({error}): offline"


@pytest.mark.slow
def test_the_cpu_index_serves_the_installed_torch_version(tmp_path):
    """pip resolves torch==<installed version> on the CPU index to a CPU wheel (+cpu) hosted
    there: what setup's CPU branch would install. Resolution only (``--dry-run``), no install."""
    why = _reachable("download.pytorch.org")
    if why:
        pytest.skip(why)
    version = torch.__version__.split("+")[0]
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
         "--only-binary", ":all:", "--index-url", CPU_INDEX, "--report", str(report),
         "--quiet", f"torch=={version}"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    [item] = json.loads(report.read_text())["install"]
    assert item["metadata"]["name"] == "torch"
    assert item["metadata"]["version"] == f"{version}+cpu"
    assert item["download_info"]["url"].startswith("https://download.pytorch.org/")


_FAKE_PYTHON = r"""#!/bin/bash
# A stand-in for .venv/bin/python: logs each call. "import torchvision" fails until a pair that
# works is in: from the CPU index (FIXED=cpu-index), from the course package's install after
# an uninstall (FIXED=after-reinstall), or never (FIXED=never).
here=$(dirname "$0")
echo "$*" >>"$here/calls"
case "$*" in
    *"--index-url"*) [ "$FIXED" = cpu-index ] && touch "$here/fixed" ;;
    *"pip uninstall"*) touch "$here/uninstalled" ;;
    *"-e .[dev]"*) [ -f "$here/uninstalled" ] && [ "$FIXED" = after-reinstall ] && touch "$here/fixed" ;;
    "-c import torchvision") [ -f "$here/fixed" ] || exit 1 ;;
esac
exit 0
"""


def _setup_with_fake_pip(tmp_path: Path, fixed: str) -> tuple[subprocess.CompletedProcess,
                                                                       list[str]]:
    """``./course.sh setup`` in a copy of the repo's script on a CPU-only Linux machine, with a
    fake python whose pip "succeeds" every time; ``fixed`` says when its torch and torchvision
    import together (a pair that did not was what pip installed on a machine with the CPU index
    unreachable and a local wheel folder configured)."""
    repo = tmp_path / "repo"
    (repo / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "course.sh", repo)
    shutil.copy(ROOT / "pyproject.toml", repo)
    python = repo / ".venv" / "bin" / "python"
    python.write_text(_FAKE_PYTHON)
    python.chmod(0o755)
    fake = _fake_machine(tmp_path / "bin", "Linux x86_64", gpu=False)
    env = {k: v for k, v in os.environ.items() if k != "CNNEDU_TORCH_INDEX"}
    env.update(PATH=f"{fake}{os.pathsep}{env['PATH']}", FIXED=fixed)
    done = subprocess.run(["/bin/bash", str(repo / "course.sh"), "setup"], env=env,
                          capture_output=True, text=True, timeout=60)
    return done, (repo / ".venv" / "bin" / "calls").read_text().splitlines()


def test_setup_drops_a_torch_pair_that_does_not_import_and_takes_pypis(tmp_path):
    """Also the case of an earlier setup's leftovers: the pair is checked before installing
    (``import torchvision``, not only ``import torch``), so a broken pair is not kept."""
    done, calls = _setup_with_fake_pip(tmp_path, fixed="after-reinstall")
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls[1] == "-c import torchvision"        # asked before installing (after pip's upgrade)
    assert "do not work together: trying again without PyTorch's CPU index" in done.stdout
    cpu_install = next(i for i, c in enumerate(calls) if f"--index-url {CPU_INDEX}" in c)
    uninstall = calls.index("-m pip uninstall -y torch torchvision")
    package = next(i for i, c in enumerate(calls) if "-e .[dev]" in c)
    assert cpu_install < uninstall < package      # dropped before the course package's install
    assert calls[package + 1] == "-c import torchvision"      # and checked after it


def test_setup_fails_clearly_when_the_installed_pair_still_does_not_import(tmp_path):
    done, _ = _setup_with_fake_pip(tmp_path, fixed="never")
    assert done.returncode == 1
    assert "checking that torch and torchvision work together" in done.stderr


def test_setup_keeps_a_cpu_index_pair_that_works(tmp_path):
    """The usual case: the CPU build's pair imports, so nothing is uninstalled (PyPI's CUDA
    build would be gigabytes more)."""
    done, calls = _setup_with_fake_pip(tmp_path, fixed="cpu-index")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "do not work together" not in done.stdout + done.stderr
    assert not any("uninstall" in call for call in calls)
    assert sum(f"--index-url {CPU_INDEX}" in call for call in calls) == 1

