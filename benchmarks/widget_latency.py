"""Kernel-side time of the explorers: settings and pointing at pixels.

    python benchmarks/widget_latency.py [--widget pooling|kernel|rgb|attribution|all]
                                        [--updates 300] [--rgb-size 256]

The pooling and kernel explorers work on a 512x512 grey photo, the kernel explorer's colour mode
(``rgb``: depthwise or dense over three channels) on the same photo in colour, ``--rgb-size``
square (256 by default, as lesson 08 shows it: seven panels at 200 px); the attribution
explorer (lesson 07) on 28x28 images with the lesson's ResNet (``get_recipe("resnet").build()``,
untrained: the time does not depend on the weights). It keeps computed maps, so its figures
are printed twice: as a learner meets them (maps kept; random moves revisit settings) and cold
(the cache emptied before every move: each update computes its map), per method. Its update
time is the time to the *first drawing*: an occlusion setting seen for the first time is drawn
as a labelled preview from at most 16 occluded passes, then as the exact map in the same update
(the time to the exact map is printed too).

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
from cnnedu.widgets.attribution_explorer import METHODS, AttributionExplorer
from cnnedu.widgets.kernel_explorer import PRESETS, KernelExplorer
from cnnedu.widgets.pooling_explorer import PoolingExplorer
from cnnedu.widgets.rgb_kernel_explorer import RGBKernelExplorer


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


def rgb_moves(explorer: RGBKernelExplorer, rng: random.Random):
    return [(explorer.stride, lambda: rng.randint(1, 8)),
            (explorer.padding, lambda: rng.randint(0, 8)),
            (explorer.dilation, lambda: rng.randint(1, 4)),
            (explorer.mode, lambda: rng.choice(["depthwise", "dense"])),
            *((k, lambda: rng.choice(list(PRESETS))) for k in explorer.kernels)]


def attribution_moves(explorer: AttributionExplorer, rng: random.Random):
    return [(explorer.image, lambda: rng.choice(list(explorer.images))),
            (explorer.target, lambda: rng.randint(-1, len(explorer.classes) - 1)),
            (explorer.method, lambda: rng.choice(METHODS)),
            (explorer.patch, lambda: rng.randint(1, 12)),
            (explorer.stride, lambda: rng.randint(1, 6)),
            (explorer.layer, lambda: rng.choice(list(explorer.layer_modules)))]


def attribution_explorer(seed: int) -> AttributionExplorer:
    """The lesson 07 explorer on the lesson's ResNet and eight random 28x28 images."""
    from cnnedu.data import CLASS_NAMES
    from cnnedu.recipes import get_recipe

    torch.manual_seed(seed)
    model = get_recipe("resnet").build().eval()
    g = torch.Generator().manual_seed(seed)
    images = {f"image {i}": torch.randn(1, 28, 28, generator=g) for i in range(8)}
    return AttributionExplorer(model, images, CLASS_NAMES)


BY_METHOD: dict[str, list[float]] = {}   # attribution: time to the first drawing, by method
EXACT_BY_METHOD: dict[str, list[float]] = {}   # attribution: time to the exact map, by method


def measure(name: str, updates: int, seed: int, photo: str, cold: bool = False,
            rgb_size: int = 256) -> tuple[list[float], list[float]]:
    """Update times and pointer (select) times, ms, sorted, of explorer ``name`` (``cold``: the
    attribution explorer's cache emptied before every move)."""
    rng = random.Random(seed)
    if name == "attribution":
        explorer = attribution_explorer(seed)
        moves = attribution_moves(explorer, rng)
    elif name == "rgb":
        explorer = RGBKernelExplorer(images={photo: load_photo(photo, rgb_size)})
        moves = rgb_moves(explorer, rng)
    elif name == "pooling":
        explorer = PoolingExplorer(images={photo: load_photo(photo, 512, gray=True)})
        moves = pooling_moves(explorer, rng)
    else:
        explorer = KernelExplorer(images={photo: load_photo(photo, 512, gray=True)})
        moves = kernel_moves(explorer, rng)
    times = []
    for _ in range(updates):
        control, value = rng.choice(moves)
        new = value()
        if control.value != new:
            if cold:
                explorer._cache.clear()
            control.value = new
            first = getattr(explorer, "first_draw_ms", None) or explorer.last_update_ms
            times.append(first)
            if name == "attribution" and explorer.error is None:
                BY_METHOD.setdefault(explorer.method.value, []).append(first)
                EXACT_BY_METHOD.setdefault(explorer.method.value, []).append(
                    explorer.last_update_ms)
    # a legal setting with a large output to point at
    if name == "attribution":
        explorer.method.value, explorer.patch.value, explorer.stride.value = "occlusion", 4, 2
    elif name == "pooling":
        explorer.kernel.value, explorer.stride.value, explorer.dilation.value = 2, 2, 1
    else:
        explorer.stride.value, explorer.dilation.value = 1, 1
    points = []
    for i in range(updates):
        rows, cols = explorer.out_hw
        pixel = [rng.randrange(rows), rng.randrange(cols)]
        if name == "rgb":         # half the time depthwise (a channel pointed at), half dense
            explorer.mode.value = "depthwise" if i < updates // 2 else "dense"
            pixel += [rng.randrange(3)] if i < updates // 2 else []
        explorer.panels.selected = pixel
        points.append(explorer.last_select_ms)
    return sorted(times), sorted(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widget", choices=["pooling", "kernel", "rgb", "attribution", "both",
                                             "all"],
                        default="all", help="both: pooling and kernel")
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--photo", default="astronaut")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rgb-size", type=int, default=256)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.photo} 512x512, "
          f"load average {os.getloadavg()[0]:.1f}")
    names = {"both": ["pooling", "kernel"], "all": ["pooling", "kernel", "rgb", "attribution"]}
    for name in names.get(args.widget, [args.widget]):
        times, points = measure(name, args.updates, args.seed, args.photo,
                                rgb_size=args.rgb_size)
        for what, values, goal in (("updates", times, 30), ("pointer", points, 10)):
            report(f"{name:11s} explorer: {len(values)} {what}", values, goal)
        if name == "attribution":
            BY_METHOD.clear()
            EXACT_BY_METHOD.clear()
            cold, _ = measure(name, args.updates, args.seed, args.photo, cold=True)
            report(f"{name:11s} explorer, cold: {len(cold)} updates", cold, 30)
            for method, values in sorted(BY_METHOD.items()):
                report(f"  cold, {method:14s}: {len(values)} updates", sorted(values), 30)
            exact = sorted(EXACT_BY_METHOD.get("occlusion", []))
            if exact:
                p50, p95 = percentiles(exact, (50, 95))
                print(f"  cold, occlusion's exact map (after its preview) | p50 {p50:.1f} ms | "
                      f"p95 {p95:.1f} ms | max {exact[-1]:.1f} ms (no goal: the preview answers)")


def report(what: str, values: list[float], goal: float) -> None:
    """One line: count, p50, p95 and max of ``values`` (sorted, ms) against the p95 goal."""
    p50, p95 = percentiles(values, (50, 95))
    print(f"{what} | p50 {p50:.1f} ms | p95 {p95:.1f} ms | max {values[-1]:.1f} ms | "
          f"goal p95 <= {goal} ms: {'met' if p95 <= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
