"""The roofline model on this machine: how fast a layer *can* run, and how fast it does.

A layer does F FLOPs and must move at least B bytes (read its input and weights once, write its
output once): its **arithmetic intensity** is I = F / B FLOP per byte. A machine that computes at
most P FLOP/s and moves at most W bytes/s cannot run the layer faster than
``min(P, I * W)`` (Williams, Waterman and Patterson 2009): below the *ridge point* I = P / W
memory is the limit, above it compute is. Dense convolutions have high intensity, depthwise ones
low: they do few FLOPs per byte, so they run far below the peak.

Here P is measured as the speed of a large fp32 matrix product and W as that of a large tensor
copy, on the machine running the lesson; each layer is timed the same way.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

BYTES_FP32 = 4


@dataclass(frozen=True)
class ConvSpec:
    """A convolution to measure: ``cin -> cout`` channels, k x k, on (batch, cin, size, size)."""

    name: str
    cin: int
    cout: int
    kernel: int
    groups: int = 1
    size: int = 56
    batch: int = 8

    def __post_init__(self):
        if self.cin % self.groups or self.cout % self.groups:
            raise ValueError(f"groups must divide cin and cout, got groups={self.groups}, "
                             f"cin={self.cin}, cout={self.cout}")

    @property
    def flops(self) -> int:
        """2 per multiply-add (as PyTorch counts), same padding, stride 1."""
        return 2 * self.batch * self.size ** 2 * self.cout * (self.cin // self.groups) * self.kernel ** 2

    @property
    def bytes_moved(self) -> int:
        """The least traffic: input and weights read once, output written once (fp32)."""
        weights = self.cout * (self.cin // self.groups) * self.kernel ** 2
        activations = self.batch * self.size ** 2 * (self.cin + self.cout)
        return BYTES_FP32 * (weights + activations)

    @property
    def intensity(self) -> float:
        return arithmetic_intensity(self.flops, self.bytes_moved)


@dataclass(frozen=True)
class Measurement:
    """A timed layer: its spec, median seconds per call, and the GFLOP/s that makes."""

    spec: ConvSpec
    seconds: float

    @property
    def gflops(self) -> float:
        return self.spec.flops / self.seconds / 1e9


def arithmetic_intensity(flops: float, bytes_moved: float) -> float:
    """FLOPs per byte moved."""
    if bytes_moved <= 0:
        raise ValueError(f"bytes_moved must be positive, got {bytes_moved}")
    return flops / bytes_moved


def attainable_gflops(intensity: float, peak_gflops: float, bandwidth_gbs: float) -> float:
    """The roof: ``min(peak, intensity x bandwidth)`` in GFLOP/s."""
    return min(peak_gflops, intensity * bandwidth_gbs)


def ridge_point(peak_gflops: float, bandwidth_gbs: float) -> float:
    """The intensity (FLOP/byte) where memory stops being the limit and compute starts."""
    return peak_gflops / bandwidth_gbs


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Achieved GFLOP/s of an fp32 n x n matrix product (2 n³ FLOPs): the practical peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 / median_seconds(lambda: a @ b, repeats) / 1e9


@torch.no_grad()
def copy_bandwidth_gbs(mib: int = 256, repeats: int = 5) -> float:
    """Achieved GB/s of copying a ``mib`` MiB fp32 tensor into another (read + write counted),
    large enough not to fit in the caches: the practical memory bandwidth."""
    src = torch.randn(mib * 2**20 // BYTES_FP32)
    dst = torch.empty_like(src)
    return 2 * src.numel() * BYTES_FP32 / median_seconds(lambda: dst.copy_(src), repeats) / 1e9


@torch.no_grad()
def measure_conv(spec: ConvSpec, repeats: int = 5) -> Measurement:
    """Time ``F.conv2d`` (eval, no gradients) for ``spec`` and return its measurement."""
    x = torch.randn(spec.batch, spec.cin, spec.size, spec.size)
    w = torch.randn(spec.cout, spec.cin // spec.groups, spec.kernel, spec.kernel)
    seconds = median_seconds(lambda: F.conv2d(x, w, padding=spec.kernel // 2, groups=spec.groups),
                             repeats)
    return Measurement(spec, seconds)


def plot_roofline(ax, measurements: list[Measurement], peak_gflops: float,
                  bandwidth_gbs: float) -> None:
    """Log-log roofline: the roof from the measured peak and bandwidth, one dot per layer."""
    intensities = [m.spec.intensity for m in measurements]
    ridge = ridge_point(peak_gflops, bandwidth_gbs)
    low, high = min(intensities + [ridge]) / 4, max(intensities + [ridge]) * 4
    xs = [low * (high / low) ** (i / 199) for i in range(200)]
    ax.plot(xs, [attainable_gflops(x, peak_gflops, bandwidth_gbs) for x in xs], color="black",
            label=f"roof: min({peak_gflops:.0f} GFLOP/s, I x {bandwidth_gbs:.1f} GB/s)")
    ax.axvline(ridge, color="gray", linestyle=":", label=f"ridge point {ridge:.1f} FLOP/byte")
    for i, m in enumerate(measurements):
        ax.scatter(m.spec.intensity, m.gflops, s=50, color=f"C{i}", zorder=3,
                   label=f"{m.spec.name}: {m.gflops:.0f} GFLOP/s")
    ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP per byte, log)",
           ylabel="GFLOP/s (log)", title="roofline of this machine (fp32)")
    ax.legend(fontsize=8, loc="lower right")
