"""A one-cycle learning rate indexed by time, so a run can be held to a wall-clock budget.

PyTorch's ``OneCycleLR`` is indexed by step: it needs the step count up front, and a budget in
seconds can only guess it (from a few timed probe steps, which a busy machine or a slow first
step makes wrong: runs then overshoot their budget). :class:`TimedOneCycle` follows the same
curve, but its position on it is the share of the budget already spent, read from the clock at
every step. Training stops when the budget is spent (``fit``'s and ``train_one_epoch``'s
``deadline``), at which point the schedule has just reached its end: every run gets the same
time and a finished schedule, whatever its step cost. The price: the step count, and so the
result, depends on the machine's speed at that moment (the lessons print the steps taken).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch


def _cos_between(start: float, end: float, share: float) -> float:
    """Cosine from ``start`` (share 0) to ``end`` (share 1), as OneCycleLR anneals."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * share) + 1)


class TimedOneCycle:
    """One-cycle learning rate (and momentum) over ``seconds`` of wall-clock time.

    The curve is ``OneCycleLR``'s with its defaults (cosine shape, start at peak / 25, end at
    start / 1e4, momentum cycled 0.95 -> 0.85 -> 0.95 for optimizers that have one: SGD's
    ``momentum``, Adam's first beta), with the optimizer's own learning rate as the peak, as
    everywhere in :mod:`cnnedu.train`. ``warmup`` is the share of the time spent rising.
    Call :meth:`step` after each optimizer step (``train_one_epoch`` does); ``clock`` is
    replaceable so tests can drive time by hand.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, seconds: float, *,
                 warmup: float = 0.25, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, base_momentum: float = 0.85,
                 max_momentum: float = 0.95,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if not seconds > 0:
            raise ValueError(f"seconds must be positive, got {seconds}")
        if not 0 < warmup < 1:
            raise ValueError(f"warmup must be a share between 0 and 1, got {warmup}")
        self.optimizer, self.seconds, self.warmup = optimizer, float(seconds), warmup
        self.clock = clock
        self.peaks = [group["lr"] for group in optimizer.param_groups]
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.momenta = (base_momentum, max_momentum)
        self.start = clock()
        self.deadline = self.start + self.seconds
        self._set(0.0)

    def share_spent(self) -> float:
        """How much of the budget has passed, clipped to [0, 1]."""
        return min(1.0, max(0.0, (self.clock() - self.start) / self.seconds))

    def step(self) -> None:
        """Move the learning rate (and momentum) to where the clock says the run is."""
        self._set(self.share_spent())

    def _set(self, share: float) -> None:
        low, high = self.momenta
        for group, peak in zip(self.optimizer.param_groups, self.peaks, strict=True):
            initial = peak / self.div_factor
            if share <= self.warmup:
                phase = share / self.warmup
                lr, momentum = _cos_between(initial, peak, phase), _cos_between(high, low, phase)
            else:
                phase = (share - self.warmup) / (1 - self.warmup)
                lr = _cos_between(peak, initial / self.final_div_factor, phase)
                momentum = _cos_between(low, high, phase)
            group["lr"] = lr
            if "betas" in group:
                group["betas"] = (momentum, *group["betas"][1:])
            elif group.get("momentum", 0) > 0:
                group["momentum"] = momentum
