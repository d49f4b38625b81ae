"""A quiet terminal for learners: the course's kernel settings (jupyter/ipython_kernel_config.json,
which ./course.sh lab puts in the environment's etc/ipython) stop every kernel start printing
"Kernel is running over TCP without encryption", and course.sh keeps JupyterLab's own [I] lines
out."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _kernel_stderr(ipython_dir: Path) -> str:
    """Start a kernel with its settings read from ``ipython_dir``, wait until it answers, stop it."""
    from jupyter_client import KernelManager

    env = dict(os.environ, IPYTHONDIR=str(ipython_dir))
    manager = KernelManager(kernel_name="python3")
    log = ipython_dir / "kernel.err"
    with open(log, "w") as err:
        manager.start_kernel(env=env, stderr=err)
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=120)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return log.read_text()


@pytest.mark.slow
def test_course_kernel_settings_silence_the_tcp_warning(tmp_path):
    plain, course = tmp_path / "plain", tmp_path / "course"
    (plain / "profile_default").mkdir(parents=True)
    (course / "profile_default").mkdir(parents=True)
    shutil.copy(ROOT / "jupyter" / "ipython_kernel_config.json", course / "profile_default")
    # "Plain" is IPython's default level, written into the profile: a profile's settings win
    # over <prefix>/etc/ipython, where ./course.sh lab (in a test that may run at the same time,
    # on another worker) installs the course's. Moving that file aside raced with it.
    (plain / "profile_default" / "ipython_kernel_config.json").write_text(
        json.dumps({"IPKernelApp": {"log_level": "WARN"}}))
    assert "without encryption" in _kernel_stderr(plain)   # what learners saw at each start
    assert "without encryption" not in _kernel_stderr(course)


def test_course_sh_installs_the_kernel_settings_and_quiets_jupyterlab():
    script = (ROOT / "course.sh").read_text()
    assert "cp jupyter/ipython_kernel_config.json .venv/etc/ipython/ipython_kernel_config.json" in script
    assert "--log-level=WARN" in script and "--LabApp.log_level=WARN" in script
    # the kernel reads etc/ipython under its environment's prefix (IPython's ENV_CONFIG_DIRS)
    from IPython.core.application import ENV_CONFIG_DIRS
    assert os.path.join(sys.prefix, "etc", "ipython") in ENV_CONFIG_DIRS


def _lab_outputs(tmp_path: Path, *flag_sets: tuple[str, ...]) -> list[str]:
    """JupyterLab's terminal output over its first 20 s (it must still be running then), once per
    set of flags; the servers run side by side (each in its own folders), so 20 s in all."""
    processes = []
    for number, flags in enumerate(flag_sets):
        folder = tmp_path / f"lab{number}"
        folder.mkdir()
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(folder / "cfg"),
                   JUPYTER_RUNTIME_DIR=str(folder / "rt"))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.port=0",
             "--ServerApp.allow_root=True", "--IdentityProvider.token=t",
             f"--ServerApp.root_dir={folder}", *flags],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    time.sleep(20)
    stopped = [process.poll() is not None for process in processes]
    for process in processes:          # every server ends before any verdict
        process.terminate()
    outputs = [process.communicate(timeout=30)[0] for process in processes]
    for output, ended_early in zip(outputs, stopped, strict=True):
        if ended_early:
            pytest.fail(f"JupyterLab stopped: {output[-2000:]}")
    return outputs


@pytest.mark.slow
def test_jupyterlab_with_course_flags_prints_no_info_lines(tmp_path):
    """The LabApp's [I] start-up lines came through --log-level=WARN alone; not with both."""
    loud, quiet = _lab_outputs(tmp_path, ("--log-level=WARN",),
                               ("--log-level=WARN", "--LabApp.log_level=WARN"))
    assert "[I " in loud
    assert "[I " not in quiet, quiet
