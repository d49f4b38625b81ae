"""Fewer PyTorch threads when other work keeps the CPU busy, so a lesson does not crawl.

PyTorch runs one OpenMP thread per core and its threads wait for each other by spinning. When
other work already keeps cores busy (another notebook, a build, a browser), those threads fight
it for the same cores: measured on a 2-core machine with a load average of about 4, 20 training
steps of a small ResNet took 32 s with 2 threads and 2.3 s with 1. So a lesson starts by
measuring how many cores other work is using right now (Linux's ``/proc/stat``, sampled over a
quarter of a second while the lesson itself is idle) and leaves PyTorch only the free ones, at
least one, and says so. The load average is not used: it lags by minutes, so it would still
call the machine busy just after the previous lesson finished. A learner who set
``OMP_NUM_THREADS`` or ``CNNEDU_THREADS`` chose for themselves and is left alone; elsewhere than
Linux nothing is changed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

STAT = Path("/proc/stat")


def cpu_times(stat: Path = STAT) -> tuple[int, int] | None:
    """(idle, total) jiffies of all cores from ``/proc/stat``'s first line; None where absent."""
    try:
        fields = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)       # idle + iowait
    return idle, sum(values[:8])                                     # guest time is in user


def busy_cores(before: tuple[int, int], after: tuple[int, int], cores: int) -> float:
    """How many of ``cores`` were busy between two :func:`cpu_times` samples."""
    idle, total = after[0] - before[0], after[1] - before[1]
    return 0.0 if total <= 0 else cores * (1 - idle / total)


def free_threads(busy: float, cores: int) -> int:
    """Threads to leave PyTorch: the cores other work does not use (rounded), at least one."""
    return max(1, min(cores, round(cores - busy)))


def guard_threads(cores: int | None = None, env: dict[str, str] | None = None,
                  sample=None) -> str:
    """Use only the free cores when other work keeps some busy, unless the user chose a thread
    count; return a note saying so ("" when nothing changed). ``sample()`` returns the busy
    core count (default: two ``/proc/stat`` readings a quarter second apart)."""
    env = os.environ if env is None else env
    chosen = env.get("CNNEDU_THREADS")
    if chosen:
        if not chosen.isdigit() or int(chosen) < 1:
            raise ValueError(f"CNNEDU_THREADS must be a positive whole number, got {chosen!r}")
        torch.set_num_threads(int(chosen))
        return ""
    if "OMP_NUM_THREADS" in env:
        return ""
    cores = (os.cpu_count() or 1) if cores is None else cores
    busy = _sample_busy(cores) if sample is None else sample()
    if busy is None:
        return ""
    threads = free_threads(busy, cores)
    if threads >= torch.get_num_threads():
        return ""
    torch.set_num_threads(threads)
    return (f"other work keeps {busy:.1f} of {cores} cores busy: PyTorch uses {threads} "
            f"thread{'s' if threads > 1 else ''} (faster on shared cores; set CNNEDU_THREADS "
            f"to choose)")


def _sample_busy(cores: int, seconds: float = 0.25) -> float | None:
    before = cpu_times()
    if before is None:
        return None
    time.sleep(seconds)
    after = cpu_times()
    return None if after is None else busy_cores(before, after, cores)
