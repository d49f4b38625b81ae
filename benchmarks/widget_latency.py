"""Kernel-side time of the explorers on a 512x512 photo: settings and pointing at pixels.

    python benchmarks/widget_latency.py [--widget pooling|kernel|both] [--updates 300]

Pushes random settings through the widget exactly as slider moves do and prints p50/p95/max of
the time from the value change to the new images being set on the widgets (computing,
colour-mapping, encoding; goal p95 <= 30 ms), then selects random output pixels as the pointer
does (window, zoom panel; goal p95 <= 10 ms). The browser adds transport and drawing on top:
see benchmarks/browser_latency.py for the end-to-end figures.
"""

from __future__ import annotations

import argparse
import os
import random

import torch

from cnnedu.images import load_photo
from cnnedu.profiling import percentiles
from cnnedu.widgets.kernel_explorer import KernelExplorer
from cnnedu.widgets.pooling_explorer import PoolingExplorer


def pooling_moves(explorer: PoolingExplorer, rng: random.Random):
    return [(explorer.kernel, lambda: rng.randint(1, 9)),
            (explorer.stride, lambda: rng.randint(1, 9)),
            (explorer.padding, lambda: rng.randint(0, explorer.padding.max)),
            (explorer.dilation, lambda: rng.randint(1, 4)),
            (explorer.mode, lambda: rng.choice(["max", "avg"])),
            (explorer.ceil_mode, lambda: rng.random() < 0.5),
            (explorer.compare, lambda: rng.random() < 0.3),
            (explorer.difference, lambda: rng.random() < 0.2)]


def kernel_moves(explorer: KernelExplorer, rng: random.Random):
    return [(explorer.stride, lambda: rng.randint(1, 8)),
            (explorer.padding, lambda: rng.randint(0, 8)),
            (explorer.dilation, lambda: rng.randint(1, 4)),
            (explorer.preset, lambda: rng.choice(list(explorer.presets))),
            (explorer.size, lambda: rng.choice([3, 5])),
            (explorer.cells[6], lambda: str(round(rng.uniform(-2, 2), 2)))]


def measure(name: str, updates: int, seed: int, photo: str) -> tuple[list[float], list[float]]:
    """Update times and pointer (select) times, ms, sorted, of explorer ``name``."""
    image = load_photo(photo, 512, gray=True)
    rng = random.Random(seed)
    if name == "pooling":
        explorer = PoolingExplorer(images={photo: image})
        moves = pooling_moves(explorer, rng)
    else:
        explorer = KernelExplorer(images={photo: image})
        moves = kernel_moves(explorer, rng)
    times = []
    for _ in range(updates):
        control, value = rng.choice(moves)
        new = value()
        if control.value != new:
            control.value = new
            times.append(explorer.last_update_ms)
    # a legal setting with a large output to point at
    if name == "pooling":
        explorer.kernel.value, explorer.stride.value, explorer.dilation.value = 2, 2, 1
    else:
        explorer.stride.value, explorer.dilation.value = 1, 1
    points = []
    for _ in range(updates):
        rows, cols = explorer.out_hw
        explorer.panels.selected = [rng.randrange(rows), rng.randrange(cols)]
        points.append(explorer.last_select_ms)
    return sorted(times), sorted(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widget", choices=["pooling", "kernel", "both"], default="both")
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--photo", default="astronaut")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.photo} 512x512, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name in (["pooling", "kernel"] if args.widget == "both" else [args.widget]):
        times, points = measure(name, args.updates, args.seed, args.photo)
        for what, values, goal in (("updates", times, 30), ("pointer", points, 10)):
            p50, p95 = percentiles(values, (50, 95))
            print(f"{name:8s} explorer: {len(values)} {what} | p50 "
                  f"{p50:.1f} ms | p95 {p95:.1f} ms | max "
                  f"{values[-1]:.1f} ms | goal p95 <= {goal} ms: "
                  f"{'met' if p95 <= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
