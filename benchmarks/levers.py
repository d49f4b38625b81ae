"""Trial of two CPU levers on a recipe: bf16 autocast and channels-last, judged on validation.

    python benchmarks/levers.py --lesson resnet [--seeds 0,1,2,3,4] [--epochs N]
        [--train-limit N] [--val-per-class 500] [--levers fp32-cl,bf16-cl,fp32,bf16]

Each lever setting trains the recipe of :mod:`cnnedu.recipes` (model, optimiser, one-cycle
schedule, label smoothing, augmentation, batch size: unchanged) once per seed on the training
images *minus* a held-out, class-balanced validation part (``--val-per-class`` images of each
class, the same for every setting and seed), then prints the training time and the validation
accuracy, per seed and as mean / min / max. The test split is never read: a lever is chosen on
validation, and only the chosen recipe is judged on test (``python -m cnnedu.benchmark``).

Settings: ``fp32`` / ``bf16`` (``torch.autocast("cpu", dtype=torch.bfloat16)`` around forward
and loss; weights, gradients and the optimiser stay fp32), each with ``-cl`` (channels-last
model and batches, the recipes' default) or without (contiguous NCHW). Evaluation runs in the
precision the model was trained in. The training loop is the one of ``cnnedu.train.fit``
(forward, loss, zero_grad, backward, step, scheduler step) without its per-step bookkeeping.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import time

import torch
from torch import nn

from cnnedu import config
from cnnedu.data import BatchLoader, FashionMNIST, balanced_indices
from cnnedu.recipes import RECIPES
from cnnedu.train import evaluate, make_optimizer, make_scheduler

LEVERS = ("fp32-cl", "bf16-cl", "fp32", "bf16")


def validation_split(labels: torch.Tensor, per_class: int,
                     seed: int = 1234) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices): ``per_class`` random images of each class held out.

    The split depends only on ``seed`` (not on the training seed), so every setting and every
    seed is judged on the same images. Both index tensors are sorted and disjoint.
    """
    classes = labels.unique()
    counts = torch.bincount(labels)
    if per_class < 1 or per_class >= int(counts[classes].min()):
        raise ValueError(f"per_class must be >= 1 and below the smallest class size "
                         f"{int(counts[classes].min())}, got {per_class}")
    generator = torch.Generator().manual_seed(seed)
    held = []
    for cls in classes:
        members = (labels == cls).nonzero().flatten()
        held.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    validation = torch.cat(held).sort().values
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[validation] = False
    return keep.nonzero().flatten(), validation


def subset(dataset: FashionMNIST, index: torch.Tensor) -> FashionMNIST:
    """A shallow copy of ``dataset`` holding only the images at ``index``."""
    part = FashionMNIST.__new__(FashionMNIST)
    part.split, part.source = dataset.split, dataset.source
    part.images, part.labels = dataset.images[index], dataset.labels[index]
    return part


def train_once(lesson: str, lever: str, seed: int, train: FashionMNIST, val: FashionMNIST,
               epochs: int | None) -> tuple[float, float]:
    """Seconds of training and validation accuracy of one run of ``lesson`` with ``lever``."""
    bf16, channels_last = lever.startswith("bf16"), lever.endswith("-cl")
    recipe = dataclasses.replace(RECIPES[lesson], channels_last=channels_last)
    config.seed_everything(seed)
    loader = recipe.train_loader(train, "cpu", seed=seed)
    val_loader = BatchLoader(val, 1000, channels_last=channels_last)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = recipe.build().to(memory_format=layout)
    epochs = epochs or recipe.epochs
    optimizer = make_optimizer(recipe.optimizer, model.parameters(), recipe.lr,
                               recipe.weight_decay)
    scheduler = make_scheduler("onecycle", optimizer, recipe.lr, len(loader) * epochs)
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)

    def precision():
        return (torch.autocast("cpu", dtype=torch.bfloat16) if bf16
                else contextlib.nullcontext())

    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            with precision():
                loss = criterion(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    seconds = time.perf_counter() - start
    with precision():
        _, accuracy = evaluate(model, val_loader, "cpu")
    return seconds, accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", required=True, choices=sorted(RECIPES))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--levers", default=",".join(LEVERS))
    parser.add_argument("--epochs", type=int, help="override the recipe (reduced trials)")
    parser.add_argument("--train-limit", type=int, help="train on a balanced subset")
    parser.add_argument("--val-per-class", type=int, default=500)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    levers = args.levers.split(",")
    if unknown := sorted(set(levers) - set(LEVERS)):
        parser.error(f"--levers must be from {', '.join(LEVERS)}, got {', '.join(unknown)}")
    full = FashionMNIST("train")
    train_index, val_index = validation_split(full.labels, args.val_per_class)
    train, val = subset(full, train_index), subset(full, val_index)
    if args.train_limit:
        train = subset(train, balanced_indices(train.labels, args.train_limit, 0))
    print(f"{args.lesson}: {len(train)} training / {len(val)} validation images "
          f"(from {full.source}), epochs {args.epochs or RECIPES[args.lesson].epochs}, "
          f"{torch.get_num_threads()} threads, seeds {seeds}")
    results = {}
    for lever in levers:
        runs = [train_once(args.lesson, lever, seed, train, val, args.epochs) for seed in seeds]
        results[lever] = runs
        print(f"  {lever:8}: " + ", ".join(f"seed {s} {a:.4f} in {t:.0f} s"
                                           for s, (t, a) in zip(seeds, runs, strict=True)),
              flush=True)
    print("lever     val acc mean [min, max]      train time mean (ratio to first)")
    base = statistics.fmean(t for t, _ in results[levers[0]])
    for lever, runs in results.items():
        accs, times = [a for _, a in runs], [t for t, _ in runs]
        print(f"{lever:8}  {statistics.fmean(accs):.4f} [{min(accs):.4f}, {max(accs):.4f}]"
              f"    {statistics.fmean(times):6.1f} s ({statistics.fmean(times) / base:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
