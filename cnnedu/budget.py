"""Families of small networks trained in one time budget over several seeds, and the verdict
(lesson 08). Each run is :func:`cnnedu.experiments.train_with_budget`, judged on a validation
split; a ranking is trusted only when the seeds agree.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from cnnedu.data import FashionMNIST
from cnnedu.experiments import over_seeds, spread_text, train_with_budget


@dataclass(frozen=True)
class Run:
    """One family, one seed: validation accuracy, steps taken, seconds (training + validation)."""

    accuracy: float
    steps: int
    seconds: float


def train_families(builders: dict[str, Callable[[], nn.Module]], train: FashionMNIST,
                   val: FashionMNIST, seconds: float, seeds: tuple[int, ...],
                   progress: bool = True, **fit_kwargs) -> dict[str, list[Run]]:
    """Every family once per seed, each sized to ``seconds`` of training: ``{name: [Run]}``."""
    def run(name: str, build: Callable[[], nn.Module], seed: int) -> Run:
        _, history, steps = train_with_budget(build, train, val, seconds, seed=seed,
                                              progress=False, **fit_kwargs)
        return Run(history.final_test_acc, steps, history.seconds[-1])

    return over_seeds(builders, seeds, run, progress)


def runs_text(runs: dict[str, list[Run]]) -> str:
    """One line per family: validation accuracy mean [min, max] over seeds, median steps."""
    lines = [f"{'family':18s} {'validation accuracy, mean [min, max]':>38s} {'steps':>6s}"]
    for name, family in runs.items():
        lines.append(f"{name:18s} {spread_text([r.accuracy for r in family], 4):>38s} "
                     f"{statistics.median(r.steps for r in family):6.0f}")
    return "\n".join(lines)


def verdict(runs: dict[str, list[Run]], a: str, b: str) -> str:
    """Does ``a`` beat ``b``? Counted seed by seed (both trained from the same seed), and
    whether their ranges over seeds overlap (if they do, the difference is within the noise)."""
    for name in (a, b):
        if name not in runs:
            raise ValueError(f"no family named {name!r}; known: {', '.join(runs)}")
    acc_a = [r.accuracy for r in runs[a]]
    acc_b = [r.accuracy for r in runs[b]]
    wins = sum(x > y for x, y in zip(acc_a, acc_b, strict=True))
    gap = statistics.fmean(acc_a) - statistics.fmean(acc_b)
    apart = min(acc_a) > max(acc_b) or min(acc_b) > max(acc_a)
    return (f"{a} vs {b}: {gap:+.4f} mean validation accuracy; {a} better in {wins} of "
            f"{len(acc_a)} seeds; ranges {'apart' if apart else 'overlap (within the noise)'}")
