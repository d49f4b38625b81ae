"""A model of data-parallel step time, fitted to measurements, to predict scaling to many workers.

With a fixed global batch split over N workers, one step costs

    t(N) = compute / N + 2 (N - 1) · latency + 2 (N - 1) / N · bytes / bandwidth

The last two terms are a *ring* all-reduce (the algorithm NCCL and gloo use for large
messages): each of the N workers sends and receives 2 (N - 1) chunks of bytes / N (a
reduce-scatter, then an all-gather), every hop paying a latency. The bandwidth term barely
grows with N (it tends to 2 · bytes / bandwidth), but compute / N shrinks, so communication
ends up dominating: adding workers stops paying once compute / N is small next to it.
"""

from __future__ import annotations

import numpy as np

NETWORKS = {  # (bytes per second per direction, seconds per hop): round assumed figures
    "25 GbE": (25e9 / 8, 20e-6),
    "PCIe 4.0 x16": (25e9, 5e-6),
    "NVLink (H100)": (450e9, 3e-6),
}


def ring_allreduce_seconds(n: int | np.ndarray, nbytes: float, bandwidth: float,
                           latency: float) -> np.ndarray:
    """Time of a ring all-reduce of ``nbytes`` over ``n`` workers (0 for a single worker)."""
    n = np.asarray(n)
    if np.any(n < 1):
        raise ValueError(f"n must be >= 1, got {n}")
    if bandwidth <= 0 or latency < 0 or np.any(np.asarray(nbytes) < 0):
        raise ValueError(f"need bandwidth > 0, latency >= 0, nbytes >= 0; got {bandwidth}, "
                         f"{latency}, {nbytes}")
    return 2 * (n - 1) * latency + 2 * (n - 1) / n * nbytes / bandwidth


def step_seconds(n: int | np.ndarray, compute: float, nbytes: float, bandwidth: float,
                 latency: float) -> np.ndarray:
    """Predicted step time: compute shared by ``n`` workers plus one gradient all-reduce."""
    return np.asarray(compute) / np.asarray(n) + ring_allreduce_seconds(
        n, nbytes, bandwidth, latency)


def fit_allreduce(nbytes: list[float], seconds: list[float], n: int = 2) -> tuple[float, float]:
    """Least-squares ``(latency, bandwidth)`` of the ring model from measured all-reduce times."""
    nbytes, seconds = np.asarray(nbytes, float), np.asarray(seconds, float)
    if len(nbytes) < 2 or len(nbytes) != len(seconds) or n < 2:
        raise ValueError("need at least two (bytes, seconds) pairs of equal length and n >= 2")
    design = np.stack([np.full_like(nbytes, 2 * (n - 1)), 2 * (n - 1) / n * nbytes], axis=1)
    (latency, inverse_bandwidth), *_ = np.linalg.lstsq(design, seconds, rcond=None)
    return max(float(latency), 0.0), 1.0 / max(float(inverse_bandwidth), 1e-30)


def plot_speedup(ax, compute: float, nbytes: float, label: str,
                 networks: dict[str, tuple[float, float]] | None = None,
                 max_workers: int = 1024) -> None:
    """Speed-up t(1) / t(N) for N = 1 ... ``max_workers`` on each network, drawn on ``ax``."""
    n = np.unique(np.logspace(0, np.log2(max_workers), 60, base=2).round())
    for name, (bandwidth, latency) in (networks or NETWORKS).items():
        speedup = compute / step_seconds(n, compute, nbytes, bandwidth, latency)
        ax.plot(n, speedup, label=name)
    ax.plot(n, n, "k:", label="ideal (N times)")
    ax.set(xscale="log", yscale="log", xlabel="workers N", ylabel="speed-up over 1 worker",
           title=label)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def break_even_workers(compute: float, nbytes: float, bandwidth: float, latency: float,
                       max_workers: int = 1 << 20) -> int:
    """The N with the shortest predicted step: beyond it, more workers make each step slower."""
    n = np.arange(1, max_workers + 1)
    return int(n[np.argmin(step_seconds(n, compute, nbytes, bandwidth, latency))])


GOYAL_IMAGES_PER_WORKER = 32   # Goyal et al. 2017: 32 images per GPU, 8,192 on 256 GPUs


def largest_worker_count(global_batch: int, per_worker: int = GOYAL_IMAGES_PER_WORKER) -> int:
    """The most workers a fixed ``global_batch`` can be split over while each keeps at least
    ``per_worker`` images (below that BatchNorm's statistics and the per-step overheads change
    the picture, and the model's compute / N no longer holds)."""
    if global_batch < 1 or per_worker < 1:
        raise ValueError(f"global_batch and per_worker must be >= 1, got {global_batch}, "
                         f"{per_worker}")
    return max(1, global_batch // per_worker)


def weak_scaling_speedup(n: int | np.ndarray, compute_per_worker: float, nbytes: float,
                         bandwidth: float, latency: float) -> np.ndarray:
    """Images per second of ``n`` workers over one worker's, when each keeps its own batch (the
    global batch grows with N, as Goyal et al. scaled): N · c / (c + all-reduce(N))."""
    n = np.asarray(n, dtype=float)
    return n * compute_per_worker / (
        compute_per_worker + ring_allreduce_seconds(n, nbytes, bandwidth, latency))


def check_prediction(predicted: float, measured: float, what: str,
                     tolerance: float = 0.5) -> tuple[bool, str]:
    """Does a model's ``predicted`` time fall within ``tolerance`` (a share) of the ``measured``
    one? Returns the answer and the sentence a lesson prints: a model that misses the one check
    a machine allows is not used to predict further on that check's authority."""
    if predicted <= 0 or measured <= 0:
        raise ValueError(f"times must be positive, got predicted={predicted}, measured={measured}")
    error = predicted / measured - 1
    ok = abs(error) <= tolerance
    verdict = ("validated: within" if ok else "NOT validated: outside") + f" ±{tolerance:.0%}"
    return ok, (f"{what}: predicted {predicted * 1e3:.2f} ms, measured {measured * 1e3:.2f} ms "
                f"({error:+.0%}), {verdict}")
