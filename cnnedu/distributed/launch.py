"""Start ``torchrun`` in a subprocess and stream its output into the notebook cell, line by line.

Why a subprocess: ``torch.multiprocessing.spawn`` must pickle the function each process runs,
and a function defined in a notebook cell cannot be found by a fresh process (it lives in
``__main__`` of the kernel), so spawning from a notebook fails or hangs. torchrun starts fresh
Python processes that import the training code from the package, as on a real cluster.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

_NOISE = re.compile(r"OMP_NUM_THREADS|^\*+$|Setting OMP_NUM_THREADS|to avoid your system being "
                    r"overloaded|further tune the variable")


@dataclass
class LaunchResult:
    """What a launch printed and how it ended."""

    command: list[str]
    returncode: int
    seconds: float
    lines: list[str] = field(default_factory=list)

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
    """
    command = torchrun_command(args, nproc, max_restarts)
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    start = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=environment, bufsize=1) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if echo and not (quiet_noise and _NOISE.search(line)):
                print(line, flush=True)
            if time.perf_counter() - start > timeout:
                process.kill()
                break
        returncode = process.wait()
    result = LaunchResult(command, returncode, time.perf_counter() - start, lines)
    if check and returncode != 0:
        tail = "\n".join(lines[-15:])
        raise RuntimeError(f"torchrun exited with {returncode}: {' '.join(command[3:])}\n{tail}")
    return result
