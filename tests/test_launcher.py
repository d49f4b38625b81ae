"""``launch`` enforces its timeout even when the child prints nothing, and kills the whole group;
a worker's abort fails a launch whatever torchrun's exit status.

Real torchrun launches (DDP against one process, synchronised BatchNorm, kill and resume, two
agents as two nodes, gradients all-reduced by hand) run in lesson 06, whose checked cells
assert each equality under nbval; every one of its launches must also pass ``launch``'s check
(exit 0, no aborted process)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from cnnedu.distributed import launcher


def _fake_torchrun(monkeypatch, code: str) -> None:
    """Make ``launch`` start ``python -c code`` instead of torchrun."""
    monkeypatch.setattr(launcher, "torchrun_command",
                        lambda args, nproc=2, max_restarts=0: [sys.executable, "-c", code])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "zombie" not in state.lower()   # a zombie has exited, only not yet reaped


def test_a_silent_child_is_stopped_at_the_timeout(monkeypatch):
    _fake_torchrun(monkeypatch, "import time; time.sleep(30)")
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"timeout.*1(\.0)? s"):
        launcher.launch([], timeout=1, echo=False)
    assert time.perf_counter() - start < 10


def test_the_timeout_kills_the_process_group_grandchildren_too(monkeypatch, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    _fake_torchrun(monkeypatch, (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"))
    result = launcher.launch([], timeout=2, echo=False, check=False)
    assert result.timed_out and result.returncode != 0
    assert "timeout" in result.lines[-1]
    grandchild = int(pid_file.read_text())
    for _ in range(50):       # SIGKILL is delivered asynchronously
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_a_child_that_finishes_in_time_is_not_a_timeout(monkeypatch):
    _fake_torchrun(monkeypatch, "print('hello'); print('bye')")
    result = launcher.launch([], timeout=30, echo=False)
    assert result.lines == ["hello", "bye"] and result.returncode == 0 and not result.timed_out


def test_a_failing_child_raises_with_its_last_lines(monkeypatch):
    _fake_torchrun(monkeypatch, "import sys; print('boom'); sys.exit(3)")
    with pytest.raises(RuntimeError, match=r"exited with 3(.|\n)*boom"):
        launcher.launch([], echo=False)


ABORT = ("import sys\nprint('rank 1: step 3')\n"
         "print('terminate called after throwing an instance of gloo::IoException', "
         "file=sys.stderr)\n")


def test_an_aborted_process_is_a_failure_even_when_torchrun_exits_0(monkeypatch):
    """A worker's C++ abort (std::terminate, seen at shutdown) can leave torchrun's status 0."""
    _fake_torchrun(monkeypatch, ABORT)
    with pytest.raises(RuntimeError, match=r"exited with 0, but a process aborted "
                                           r"\('terminate called after(.|\n)*rank 1: step 3"):
        launcher.launch([], echo=False)
    result = launcher.launch([], echo=False, check=False)
    assert result.returncode == 0 and result.grep("terminate called")


def test_an_aborted_agent_fails_launch_nodes_too(monkeypatch):
    monkeypatch.setattr(launcher, "node_command",
                        lambda *args, **kw: [sys.executable, "-c", ABORT])
    with pytest.raises(RuntimeError, match=r"torchrun agents exited with 0, but a process aborted"):
        launcher.launch_nodes([], nnodes=2, echo=False)


BY_HAND = r"max \|by hand - (.+?)\|\s+= (\S+)$"      # lesson 06's pattern


def test_numbers_reads_name_and_value_from_matching_lines():
    result = launcher.LaunchResult([], 0, 1.0, [
        "rank 0: 4 samples [0, 1, 2, 3], local grad [0.1, 0.2]",
        "max |by hand - DDP|          = 1.2e-08",
        "max |by hand - one process|  = nan",
        "max |by hand - one process|? = 5 (does not match: skipped)"])
    found = result.numbers(BY_HAND)
    assert list(found) == ["DDP", "one process"] and found["DDP"] == 1.2e-08
    assert found["one process"] != found["one process"]          # NaN is kept, for a check to fail
    assert not all(v <= 1e-6 for v in found.values())            # as lesson 06's checks read it
    assert result.numbers(r"(nothing) (here)") == {}


@pytest.mark.parametrize(("lines", "message"), [
    (["max |by hand - DDP| = 1e-8", "max |by hand - DDP| = 0.0"], "'DDP' is printed more than once"),
    (["max |by hand - DDP| = small"], "not a number after 'DDP'")])
def test_numbers_refuses_a_repeated_name_or_a_non_number(lines, message):
    with pytest.raises(ValueError, match=message):
        launcher.LaunchResult([], 0, 1.0, lines).numbers(BY_HAND)


def test_bad_timeout_is_rejected():
    with pytest.raises(ValueError, match="timeout"):
        launcher.launch([], timeout=0)


def test_launch_is_reachable_as_a_function_and_its_module_by_name():
    import cnnedu.distributed as distributed

    assert callable(distributed.launch) and distributed.launcher is launcher
    assert os.path.basename(launcher.__file__) == "launcher.py"


def test_launch_passes_its_settings_to_torchrun_and_echoes_the_output(monkeypatch, capsys):
    asked = []

    def fake(args, nproc=2, max_restarts=0):
        asked.append((list(args), nproc, max_restarts))
        return [sys.executable, "-c", "print('from the worker')"]

    monkeypatch.setattr(launcher, "torchrun_command", fake)
    result = launcher.launch(["train", "--epochs", "1"], nproc=3, max_restarts=1)
    assert asked == [(["train", "--epochs", "1"], 3, 1)]
    assert result.command == fake([], 3, 1) and "from the worker" in capsys.readouterr().out


def test_torchrun_command_is_python_m_torch_distributed_run():
    command = launcher.torchrun_command(["train"], nproc=2, max_restarts=0)
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in command and "--max-restarts=0" in command
    assert command[-3:] == ["-m", "cnnedu.distributed", "train"]
