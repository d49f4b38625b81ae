"""Start ``torchrun`` in a subprocess and stream its output into the notebook cell, line by line.

Why a subprocess: ``torch.multiprocessing.spawn`` must pickle the function each process runs,
and a function defined in a notebook cell cannot be found by a fresh process (it lives in
``__main__`` of the kernel), so spawning from a notebook fails or hangs. torchrun starts fresh
Python processes that import the training code from the package, as on a real cluster.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from queue import Empty, Queue

_NOISE = re.compile(r"OMP_NUM_THREADS|^\*+$|Setting OMP_NUM_THREADS|to avoid your system being "
                    r"overloaded|further tune the variable")


_TIMEOUT = object()   # what the output queue 'gives' when the time is up


@dataclass
class LaunchResult:
    """What a launch printed and how it ended."""

    command: list[str]
    returncode: int
    seconds: float
    lines: list[str] = field(default_factory=list)
    timed_out: bool = False    # the run passed launch's timeout and was killed

    def grep(self, pattern: str) -> list[str]:
        """The output lines matching the regular expression ``pattern``."""
        return [line for line in self.lines if re.search(pattern, line)]


def torchrun_command(args: list[str], nproc: int = 2, max_restarts: int = 0,
                     module: str = "cnnedu.distributed") -> list[str]:
    """``python -m torch.distributed.run`` (that is torchrun) for this interpreter."""
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be an int >= 1, got {nproc!r}")
    if not isinstance(max_restarts, int) or max_restarts < 0:
        raise ValueError(f"max_restarts must be an int >= 0, got {max_restarts!r}")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", f"--max-restarts={max_restarts}",
            "-m", module, *map(str, args)]


def launch(args: list[str], nproc: int = 2, max_restarts: int = 0,
           env: dict[str, str] | None = None, echo: bool = True, check: bool = True,
           quiet_noise: bool = True, timeout: float = 900) -> LaunchResult:
    """Run ``torchrun --standalone --nproc-per-node=nproc -m cnnedu.distributed *args``.

    Output (stdout and stderr together) is printed as it comes when ``echo``; torchrun's advice
    about OMP_NUM_THREADS is left out when ``quiet_noise``. A non-zero exit raises
    ``RuntimeError`` with the last lines, unless ``check=False``.

    ``timeout`` (seconds) holds whether or not the run prints: a hung all-reduce prints nothing.
    torchrun runs in its own process group (session); at the timeout the whole group, workers
    included, is killed, and ``TimeoutError`` is raised (with ``check=False``: the result has
    ``timed_out=True`` and a last line saying so).
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    command = torchrun_command(args, nproc, max_restarts)
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    start = time.perf_counter()
    lines: list[str] = []
    timed_out = False
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=environment, bufsize=1, start_new_session=True) as process:
        assert process.stdout is not None
        queue: Queue[str | None] = Queue()
        reader = threading.Thread(target=_pump, args=(process.stdout, queue), daemon=True)
        reader.start()
        while True:
            left = timeout - (time.perf_counter() - start)
            try:
                line = queue.get(timeout=left) if left > 0 else _TIMEOUT
            except Empty:
                line = _TIMEOUT
            if line is None:          # end of output: the child closed its stdout
                break
            if line is _TIMEOUT:
                timed_out = True
                _kill_group(process)
                break
            lines.append(line)
            if echo and not (quiet_noise and _NOISE.search(line)):
                print(line, flush=True)
        returncode = process.wait()
        reader.join(timeout=5)
    seconds = time.perf_counter() - start
    if timed_out:
        lines.append(f"[launch] timeout: killed torchrun and its workers after {timeout:g} s "
                     f"(the limit was timeout={timeout:g} s)")
        if echo:
            print(lines[-1], flush=True)
    result = LaunchResult(command, returncode, seconds, lines, timed_out)
    if timed_out and check:
        tail = "\n".join(lines[-15:])
        raise TimeoutError(f"torchrun passed its timeout of {timeout:g} s and was killed: "
                           f"{' '.join(command[3:])}\n{tail}")
    if check and returncode != 0:
        tail = "\n".join(lines[-15:])
        raise RuntimeError(f"torchrun exited with {returncode}: {' '.join(command[3:])}\n{tail}")
    return result


def _pump(stream, queue: Queue) -> None:
    """Move lines from ``stream`` to ``queue`` (without their newline); None marks the end."""
    for line in stream:
        queue.put(line.rstrip("\n"))
    queue.put(None)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the child's whole process group: torchrun and every worker it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
