"""Kernel-side update time of the explorers on a 512x512 photo (goal: p95 <= 30 ms).

    python benchmarks/widget_latency.py [--widget pooling|kernel|both] [--updates 300]

Pushes random legal settings through the widget exactly as slider moves do and prints
p50/p95/max of the time from the value change to the new images being set on the widgets
(computing, colour-mapping, encoding). The browser adds transport and drawing on top: see
benchmarks/browser_latency.py for the end-to-end figure.
"""

from __future__ import annotations

import argparse
import random
import statistics

import torch

from cnnedu.images import load_photo
from cnnedu.widgets.kernel_explorer import KernelExplorer
from cnnedu.widgets.pooling_explorer import PoolingExplorer


def pooling_moves(explorer: PoolingExplorer, rng: random.Random):
    return [(explorer.kernel, lambda: rng.randint(1, 9)),
            (explorer.stride, lambda: rng.randint(1, 9)),
            (explorer.padding, lambda: rng.randint(0, explorer.padding.max)),
            (explorer.dilation, lambda: rng.randint(1, 4)),
            (explorer.mode, lambda: rng.choice(["max", "avg"])),
            (explorer.ceil_mode, lambda: rng.random() < 0.5),
            (explorer.compare, lambda: rng.random() < 0.3)]


def kernel_moves(explorer: KernelExplorer, rng: random.Random):
    return [(explorer.stride, lambda: rng.randint(1, 8)),
            (explorer.padding, lambda: rng.randint(0, 8)),
            (explorer.dilation, lambda: rng.randint(1, 4)),
            (explorer.preset, lambda: rng.choice(list(explorer.presets))),
            (explorer.size, lambda: rng.choice([3, 5])),
            (explorer.cells[6], lambda: round(rng.uniform(-2, 2), 2))]


def measure(name: str, updates: int, seed: int, photo: str) -> list[float]:
    """Update times (ms, sorted) of ``updates`` random moves of explorer ``name``."""
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
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widget", choices=["pooling", "kernel", "both"], default="both")
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--photo", default="astronaut")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.photo} 512x512")
    for name in (["pooling", "kernel"] if args.widget == "both" else [args.widget]):
        times = measure(name, args.updates, args.seed, args.photo)
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"{name:8s} explorer: {len(times)} updates | p50 {statistics.median(times):.1f} ms "
              f"| p95 {p95:.1f} ms | max {times[-1]:.1f} ms | goal p95 <= 30 ms: "
              f"{'met' if p95 <= 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
