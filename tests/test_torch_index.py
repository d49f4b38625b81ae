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
