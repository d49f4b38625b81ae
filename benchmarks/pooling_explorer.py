"""Kernel-side update time of the pooling explorer on a 512x512 photo (goal: p95 <= 30 ms).

    python benchmarks/pooling_explorer.py [--updates 300] [--photo astronaut]

Pushes random legal settings (kernel, stride, padding, dilation, mode, ceil_mode, compare)
through the widget exactly as slider moves do, and prints p50/p95/max of the time from the
value change to the new images being set on the widgets (computing, colour-mapping, encoding).
"""

from __future__ import annotations

import argparse
import random
import statistics

import torch

from cnnedu.images import load_photo
from cnnedu.widgets.pooling_explorer import PoolingExplorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--photo", default="astronaut")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    image = load_photo(args.photo, 512, gray=True)
    explorer = PoolingExplorer(images={args.photo: image})
    rng = random.Random(args.seed)
    sliders = [(explorer.kernel, lambda: rng.randint(1, 9)),
               (explorer.stride, lambda: rng.randint(1, 9)),
               (explorer.padding, lambda: rng.randint(0, explorer.padding.max)),
               (explorer.dilation, lambda: rng.randint(1, 4)),
               (explorer.mode, lambda: rng.choice(["max", "avg"])),
               (explorer.ceil_mode, lambda: rng.random() < 0.5),
               (explorer.compare, lambda: rng.random() < 0.3)]
    times = []
    for _ in range(args.updates):
        control, value = rng.choice(sliders)
        new = value()
        if control.value == new:
            continue
        control.value = new
        times.append(explorer.last_update_ms)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"pooling explorer, {args.photo} 512x512, {len(times)} updates, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"p50 {statistics.median(times):.1f} ms | p95 {p95:.1f} ms | max {times[-1]:.1f} ms "
          f"| goal p95 <= 30 ms: {'met' if p95 <= 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
