"""Start ``torchrun`` in a subprocess and stream its output into the notebook cell, line by line.

:func:`launch` starts one torchrun (one node, ``--standalone``); :func:`launch_nodes` starts
several torchrun *agents* on this machine that meet through a c10d rendezvous on localhost,
exactly as agents on separate machines meet at the first machine's address: the multi-node
path, tried without a cluster.

Why a subprocess: ``torch.multiprocessing.spawn`` must pickle the function each process runs,
and a function defined in a notebook cell cannot be found by a fresh process (it lives in
``__main__`` of the kernel), so spawning from a notebook fails or hangs. torchrun starts fresh
Python processes that import the training code from the package, as on a real cluster.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from queue import Empty, Queue

from cnnedu.distributed.group import threads_per_process

_NOISE = re.compile(r"OMP_NUM_THREADS|^\*+$|Setting OMP_NUM_THREADS|to avoid your system being "
                    r"overloaded|further tune the variable")


_TIMEOUT = object()   # what the output queue 'gives' when the time is up
# What a C++ abort prints (std::terminate, e.g. a process group torn down under a live thread).
# It can come from one worker while torchrun still exits 0, so the exit status alone misses it.
_ABORT = "terminate called"


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

    def numbers(self, pattern: str) -> dict[str, float]:
        """``{name: value}`` from the lines matching ``pattern``, a regular expression with two
        groups, a name and then a number: ``r"max \\|by hand - (.+?)\\|\\s+= (\\S+)$"``
        reads ``max |by hand - DDP|  = 1.2e-08`` as ``{"DDP": 1.2e-08}``. A name printed twice
        or a value that is not a number is a ValueError: a check must not pick one silently."""
        found: dict[str, float] = {}
        for line in self.lines:
            if match := re.search(pattern, line):
                name, value = match.groups()
                name = name.strip()
                if name in found:
                    raise ValueError(f"{name!r} is printed more than once: {line!r}")
                try:
                    found[name] = float(value)
                except ValueError:
                    raise ValueError(f"not a number after {name!r}: {line!r}") from None
        return found


def _raise_if_failed(result: LaunchResult, what: str, codes: object,
                     timeout_message: str) -> None:
    """What ``check=True`` refuses: a timeout, a non-zero exit, or a worker's C++ abort.
    ``what`` names the launcher ("torchrun"), ``timeout_message`` says what a timeout did."""
    tail = "\n".join(result.lines[-15:])
    command = " ".join(result.command[3:])
    if result.timed_out:
        raise TimeoutError(f"{what} {timeout_message}: {command}\n{tail}")
    if result.returncode != 0:
        raise RuntimeError(f"{what} exited with {codes}: {command}\n{tail}")
    if aborted := result.grep(_ABORT):
        raise RuntimeError(f"{what} exited with 0, but a process aborted "
                           f"({aborted[0].strip()!r}): {command}\n{tail}")


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
    about OMP_NUM_THREADS is left out when ``quiet_noise``. A non-zero exit, or a process that
    aborted (``terminate called``, which torchrun can report with status 0), raises
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
    if check:
        _raise_if_failed(result, "torchrun", returncode,
                         f"passed its timeout of {timeout:g} s and was killed")
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


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now (for the rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def node_command(args: list[str], nnodes: int, endpoint: str, nproc: int = 1,
                 rdzv_id: str = "cnnedu", module: str = "cnnedu.distributed") -> list[str]:
    """One torchrun agent of an ``nnodes``-node job meeting at ``endpoint`` (``host:port``).

    The same command runs on every node: the c10d rendezvous hands out the node ranks, so no
    agent needs ``--node-rank``; ``rdzv_id`` tells this job from others using the same endpoint.
    """
    if not isinstance(nnodes, int) or nnodes < 1:
        raise ValueError(f"nnodes must be an int >= 1, got {nnodes!r}")
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be an int >= 1, got {nproc!r}")
    if not re.fullmatch(r"[^:\s]+:\d+", endpoint):
        raise ValueError(f"endpoint must be host:port, got {endpoint!r}")
    return [sys.executable, "-m", "torch.distributed.run", f"--nnodes={nnodes}",
            f"--nproc-per-node={nproc}", "--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}",
            f"--rdzv-id={rdzv_id}", "--max-restarts=0", "-m", module, *map(str, args)]


def launch_nodes(args: list[str], nnodes: int = 2, nproc: int = 1,
                 env: dict[str, str] | None = None, echo: bool = True, check: bool = True,
                 quiet_noise: bool = True, timeout: float = 900) -> LaunchResult:
    """``nnodes`` torchrun agents on this machine, as if on ``nnodes`` machines.

    They meet at ``localhost:<free port>`` (c10d rendezvous); each line of output is prefixed
    ``[node i]`` (i: the order of start, not the rank the rendezvous gives). The cores are shared
    as on one node (``OMP_NUM_THREADS`` from :func:`cnnedu.distributed.group.threads_per_process`
    over all processes: the usable cores // processes) unless ``env`` sets it, so the run is
    comparable with :func:`launch` of the same processes. Errors as in :func:`launch`.
    """
    endpoint = f"localhost:{free_port()}"
    command = node_command(args, nnodes, endpoint, nproc, rdzv_id=f"cnnedu-{os.getpid()}-"
                           f"{endpoint.rsplit(':', 1)[1]}")
    threads = str(threads_per_process(nnodes * nproc))
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": threads,
                   "CNNEDU_THREADS_FROM_USER": "1", **(env or {})}
    lines: Queue[str | None] = Queue()
    start = time.perf_counter()
    agents = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=environment, bufsize=1, start_new_session=True)
              for _ in range(nnodes)]

    def read(index: int, stream) -> None:
        for line in stream:
            lines.put(f"[node {index}] {line.rstrip()}")
        lines.put(None)   # this agent's output has ended

    for index, agent in enumerate(agents):
        threading.Thread(target=read, args=(index, agent.stdout), daemon=True).start()
    collected: list[str] = []
    open_streams = nnodes
    timed_out = False
    while open_streams:   # printed here, in the caller's thread (a notebook cell's output)
        left = timeout - (time.perf_counter() - start)
        try:
            line = lines.get(timeout=left) if left > 0 else _TIMEOUT
        except Empty:
            line = _TIMEOUT
        if line is _TIMEOUT:      # the same rule as launch: silent agents are killed too
            timed_out = True
            for agent in agents:
                _kill_group(agent)
            break
        if line is None:
            open_streams -= 1
            continue
        collected.append(line)
        if echo and not (quiet_noise and _NOISE.search(line)):
            print(line, flush=True)
    codes = [agent.wait() for agent in agents]
    returncode = next((code for code in codes if code != 0), 0)
    if timed_out:
        collected.append(f"[launch_nodes] timeout: killed the agents and their workers after "
                         f"{timeout:g} s")
        if echo:
            print(collected[-1], flush=True)
    result = LaunchResult(command, returncode, time.perf_counter() - start, collected, timed_out)
    if check:
        _raise_if_failed(result, "torchrun agents", codes,
                         f"passed their timeout of {timeout:g} s and were killed")
    return result
