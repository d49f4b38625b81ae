"""How close the recipes' training comes to this CPU's limit, measured in one run.

    python benchmarks/utilization.py [--size 2048] [--steps 30] [--batch N] [--compile]
        [--json out.json]

1. The dense matmul peak (``size`` x ``size`` @ ``size`` x ``size``, best of several repeats, all
   of torch's threads) in fp32, and in bf16 where the CPU has native bf16 instructions
   (``avx512_bf16`` or ``amx_bf16`` in /proc/cpuinfo, and oneDNN says bf16 is supported).
2. For each recipe in :mod:`cnnedu.recipes`: the FLOPs of one training step (forward + backward,
   counted by ``torch.utils.flop_counter.FlopCounterMode`` on a batch of the recipe's size; the
   optimiser's elementwise work is not counted, as the counter counts matmuls and convolutions
   only), times the steps, divided by their wall time, on synthetic batches (random images of
   the recipe's batch size, in the recipe's memory layout, so data loading is left out); in
   the recipe's own precision (``Recipe.precision``: fp32, or bf16 autocast via
   :func:`cnnedu.train.precision.autocast`, as ``fit`` trains it), and in the other precision
   for comparison where bf16 is native.
3. Each training figure as a percentage of the peak of the same precision.
4. The floor this puts under the benchmark's time (``python -m cnnedu.benchmark``: 60,000
   images times the recipe's epochs): its training FLOPs, the seconds they take at 100 % and at
   60 % of the peak, and the share of the peak the performance issue's time goal needs (ResNet
   60 s, AlexNet 40 s, whole process). A goal that needs more than 100 % cannot be met with
   that recipe's model and epochs on this CPU, however good the implementation.

Two levers can be measured with it: ``--batch N`` times every step at batch N instead of the
recipe's, and ``--compile`` adds a row per recipe and precision with the model wrapped in
``torch.compile`` (inductor; on a CPU it needs a C++ compiler, which this machine class has).
The compiled rows print their one-off compile time; FLOPs are counted on the eager model.

All figures come from the same process, minutes apart: on a shared machine compare them with
each other, not with figures of another run. Accuracy under bf16 is not measured here (see
``benchmarks/levers.py``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnedu.recipes import RECIPES
from cnnedu.train import make_optimizer
from cnnedu.train.precision import autocast, cpu_flags, native_bf16, resolve_precision


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of the fastest of ``repeats`` dense ``size``-square matmuls in ``dtype``."""
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    for _ in range(2):
        torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best


def training_rate(name: str, steps: int, precision: str, batch: int | None = None,
                  compiled: bool = False) -> dict:
    """FLOPs per step, seconds per step and FLOP/s of ``name``'s recipe on synthetic batches
    (the recipe's batch size, or ``batch``), trained in ``precision`` ("fp32" or "bf16"), the
    model eager or wrapped in ``torch.compile`` (``compiled``)."""
    recipe = RECIPES[name]
    batch = batch or recipe.batch_size
    torch.manual_seed(0)
    layout = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = recipe.build().to(memory_format=layout).train()
    optimizer = make_optimizer(recipe.optimizer, model.parameters(), recipe.lr * 0.01,
                               recipe.weight_decay)
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    x = torch.randn(batch, 1, 28, 28).to(memory_format=layout)
    y = torch.randint(0, 10, (batch,))
    forward = model

    def step() -> None:
        with autocast(precision, "cpu"):
            loss = criterion(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    flops = counter.get_total_flops()
    start = time.perf_counter()
    if compiled:
        forward = torch.compile(model)
    for _ in range(3):
        step()
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps
    return {"recipe": name, "precision": precision, "compiled": compiled,
            "recipe_precision": precision == resolve_precision(recipe.precision, "cpu"),
            "batch": batch, "flops_per_step": flops, "ms_per_step": seconds * 1e3,
            "warm_up_s": warm_up, "images_per_s": batch / seconds,
            "flops_per_s": flops / seconds}


TRAIN_IMAGES = 60_000                            # what the benchmark trains on, per epoch
GOAL_SECONDS = {"resnet": 60.0, "alexnet": 40.0}  # the performance issue's goals, whole process


def time_floor(flops_per_step: float, batch: int, epochs: int, peak: float,
               goal_s: float | None = None, images: int = TRAIN_IMAGES) -> dict:
    """What ``epochs`` passes over ``images`` cost at a step's FLOP count: total FLOPs, seconds
    at 100 % and 60 % of ``peak`` (FLOP/s), and the percentage of ``peak`` that finishing within
    ``goal_s`` would need (training alone; the process also loads data and evaluates)."""
    total = flops_per_step / batch * images * epochs
    row = {"train_flops": total, "seconds_at_peak": total / peak,
           "seconds_at_60_percent": total / (0.6 * peak)}
    if goal_s is not None:
        row["goal_s"] = goal_s
        row["percent_of_peak_needed"] = 100 * total / (goal_s * peak)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048, help="matmul side (default 2048)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per recipe")
    parser.add_argument("--batch", type=int, help="time every step at this batch size")
    parser.add_argument("--compile", action="store_true",
                        help="also time each recipe with its model under torch.compile")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    if args.size < 64 or args.steps < 1 or (args.batch is not None and args.batch < 1):
        parser.error(f"--size must be >= 64, --steps and --batch >= 1, got {args.size}, "
                     f"{args.steps} and {args.batch}")
    bf16 = native_bf16("cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {bf16} "
          f"(flags: {sorted({'avx512_bf16', 'amx_bf16', 'amx_tile'} & cpu_flags()) or 'none'})")
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    native = ["fp32"] + (["bf16"] if bf16 else [])
    own = {name: resolve_precision(recipe.precision, "cpu") for name, recipe in RECIPES.items()}
    wanted = set(native) | set(own.values())
    peaks = {}
    for label in [p for p in dtypes if p in wanted]:
        peaks[label] = matmul_peak(dtypes[label], args.size)
        print(f"matmul peak {label}: {peaks[label] / 1e9:.0f} GFLOP/s ({args.size}^2, best of 10)"
              f"{'' if label in native else ' (not native on this CPU)'}")
    rows = []
    for name in RECIPES:
        # the recipe's own precision first (what fit trains), then the other one where native
        for label in [own[name]] + [p for p in native if p != own[name]]:
            for compiled in (False, True) if args.compile else (False,):
                row = training_rate(name, args.steps, label, args.batch, compiled)
                row["percent_of_peak"] = 100 * row["flops_per_s"] / peaks[label]
                rows.append(row)
                mark = ("recipe" if row["recipe_precision"] else "other") + (
                    f", torch.compile: {row['warm_up_s']:.0f} s to compile" if compiled else "")
                print(f"{name:8} {label} ({mark}), batch {row['batch']}: "
                      f"{row['flops_per_step'] / 1e9:.2f} GFLOP/step, "
                      f"{row['ms_per_step']:.1f} ms/step, {row['images_per_s']:.0f} img/s, "
                      f"{row['flops_per_s'] / 1e9:.0f} GFLOP/s = "
                      f"{row['percent_of_peak']:.0f} % of the {label} matmul peak")
    floors = {}
    for row in rows:
        if not row["recipe_precision"] or row["compiled"] or row["recipe"] in floors:
            continue
        name, label = row["recipe"], row["precision"]
        floor = floors[name] = time_floor(row["flops_per_step"], row["batch"],
                                          RECIPES[name].epochs, peaks[label],
                                          GOAL_SECONDS.get(name))
        print(f"{name:8} the benchmark's training ({TRAIN_IMAGES:,} images x "
              f"{RECIPES[name].epochs} epochs): {floor['train_flops'] / 1e12:.1f} TFLOP = "
              f"{floor['seconds_at_peak']:.0f} s at 100 % of the {label} matmul peak, "
              f"{floor['seconds_at_60_percent']:.0f} s at 60 %"
              + (f"; the {floor['goal_s']:.0f} s goal needs {floor['percent_of_peak_needed']:.0f} %"
                 f" of it (these steps: {row['percent_of_peak']:.0f} %)" if "goal_s" in floor
                 else ""))
    if args.json:
        args.json.write_text(json.dumps({"peaks": peaks, "rows": rows, "floors": floors,
                                         "native_bf16": bf16,
                                         "threads": torch.get_num_threads(),
                                         "torch": torch.__version__}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
