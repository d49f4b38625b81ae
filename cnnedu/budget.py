"""Networks trained in one wall-clock budget, over seeds, judged on a validation split.

Lessons 05 and 08 ask which small family learns most in the same time on this machine. The
budget is enforced in time: each run's one-cycle learning rate follows the clock
(:class:`cnnedu.train.timed.TimedOneCycle`) and no step starts once the budget is spent, so a
run overshoots by at most one step (printed), whatever its step cost and however busy the
machine. The evaluation on the validation images comes after the budget and is not counted.
A ranking is trusted only as far as the seeds agree: :func:`verdict` uses the course's one
verdict function, :func:`cnnedu.verdicts.verdict`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnnedu.config import seed_everything
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.device import resolve_device, synchronize
from cnnedu.experiments import over_seeds, spread_text
from cnnedu.train import History, evaluate, make_optimizer, train_one_epoch
from cnnedu.train.timed import TimedOneCycle
from cnnedu.verdicts import Verdict
from cnnedu.verdicts import verdict as paired_verdict

FAMILY_BUDGET_S = 15.0               # seconds of training per run, lessons 05 and 08 alike
FAMILY_SEEDS = (0, 1, 2, 3, 4)       # five seeds: the course's minimum for a verdict


@dataclass(frozen=True)
class Run:
    """One family, one seed: validation accuracy, steps taken, seconds of training (budgeted)."""

    accuracy: float
    steps: int
    seconds: float


def train_with_budget(build: Callable[[], nn.Module], train: FashionMNIST, val: FashionMNIST,
                      seconds: float, *, batch_size: int = 128, seed: int = 0, device=None,
                      optimizer: str = "adamw", lr: float = 3e-3, weight_decay: float = 0.05,
                      label_smoothing: float = 0.1, augment: bool = True,
                      channels_last: bool = True) -> tuple[nn.Module, History, int]:
    """Train a fresh ``build()`` for ``seconds`` of wall-clock time, then evaluate on ``val``.

    The learning rate follows a one-cycle curve over the budget's *time*; every step checks the
    clock, and none starts after the budget is spent. Returns the model (eval mode), its
    history (one entry per pass over the data; ``history.seconds[-1]`` is the training time,
    ``history.test_acc[-1]`` the accuracy on ``val``) and the number of steps taken.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    seed_everything(seed)
    device = resolve_device(device)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = build().to(device=device, memory_format=layout)
    loader = BatchLoader(train, batch_size, shuffle=True, augment=augment, seed=seed,
                         device=device, channels_last=channels_last)
    step = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    history = History()
    synchronize(device)
    schedule = TimedOneCycle(step, seconds)
    while True:
        result = train_one_epoch(model, loader, step, criterion, device, scheduler=schedule,
                                 deadline=schedule.deadline)
        history.step_loss.extend(result.step_loss)
        history.epoch.append(len(history.epoch) + 1)
        history.train_loss.append(result.loss)
        history.train_acc.append(result.accuracy)
        if result.diverged or result.out_of_time or time.perf_counter() > schedule.deadline:
            break
        history.test_loss.append(float("nan"))
        history.test_acc.append(float("nan"))
        history.seconds.append(time.perf_counter() - schedule.start)
    synchronize(device)
    history.seconds.append(time.perf_counter() - schedule.start)
    val_loss, val_acc = (evaluate(model, BatchLoader(val, 1000, device=device,
                                                     channels_last=channels_last), device)
                         if not result.diverged else (float("nan"), float("nan")))
    history.test_loss.append(val_loss)
    history.test_acc.append(val_acc)
    model.eval()
    return model, history, len(history.step_loss)


def train_families(builders: dict[str, Callable[[], nn.Module]], train: FashionMNIST,
                   val: FashionMNIST, seconds: float, seeds: tuple[int, ...],
                   progress: bool = True, **settings) -> dict[str, list[Run]]:
    """Every family once per seed, each given ``seconds`` of training: ``{name: [Run]}``.

    ``settings`` go to :func:`train_with_budget` (optimizer, lr, batch size, ...).
    """
    def run(name: str, build: Callable[[], nn.Module], seed: int) -> Run:
        _, history, steps = train_with_budget(build, train, val, seconds, seed=seed, **settings)
        return Run(history.final_test_acc, steps, history.seconds[-1])

    return over_seeds(builders, seeds, run, progress)


def runs_text(runs: dict[str, list[Run]], budget: float | None = None) -> str:
    """One line per family: validation accuracy mean [min, max] over seeds, median steps, the
    median time per step and (given the ``budget``) the largest overshoot of it."""
    header = (f"{'family':18s} {'validation accuracy, mean [min, max]':>38s} {'steps':>6s} "
              f"{'ms/step':>8s}" + (f" {'max over budget':>16s}" if budget else ""))
    lines = [header]
    for name, family in runs.items():
        line = (f"{name:18s} {spread_text([r.accuracy for r in family], 4):>38s} "
                f"{statistics.median(r.steps for r in family):6.0f} "
                f"{1000 * statistics.median(r.seconds / max(1, r.steps) for r in family):8.0f}")
        if budget:
            line += f" {max(r.seconds for r in family) - budget:+15.2f}s"
        lines.append(line)
    return "\n".join(lines)


def verdict(runs: dict[str, list[Run]], a: str, b: str, *, quick: bool = False,
            full_run_found: str | None = None,
            scope: str = "in this time budget, on Fashion-MNIST's validation split") -> Verdict:
    """Does family ``a`` beat ``b``? Paired seed by seed (both trained from the same seed):
    the effect, its spread, the seeds that agree and a paired t-test, printed by
    :func:`cnnedu.verdicts.verdict`."""
    for name in (a, b):
        if name not in runs:
            raise ValueError(f"no family named {name!r}; known: {', '.join(runs)}")
    return paired_verdict([r.accuracy for r in runs[a]], [r.accuracy for r in runs[b]], a, b,
                          metric="validation accuracy", scope=scope, quick=quick,
                          full_run_found=full_run_found, digits=4)
