"""Print what a comparison over seeds shows, with its uncertainty, from the runs' own results.

A lesson that compares two settings (with and without BatchNorm, plain vs residual) should let
its runs state the verdict, not the prose: ``verdict`` takes one result per seed for each
setting, paired by seed, and prints the effect (mean ± sd of the per-seed differences, and
their min-max), how many seeds agree on the direction, and the two-sided p of a paired t-test.
The wording stays within what was run ("in this budget, on Fashion-MNIST"), and a quick-mode
run, too short to judge anything, says so and quotes what the full run found instead.

Why two-sided: the direction of the winner is read from the runs, not fixed before them, so a
one-sided p would halve the honest one. Why a t-test and not a sign test: with 5 seeds the
exact two-sided sign test can never go below 2/32 = 0.0625, so it could never name a winner at
0.05 (:mod:`cnnedu.ttest` says more). The t-test assumes roughly normal per-seed differences;
the printed line says so, and the count of seeds that agree stays beside it as a check any
reader can do by eye.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from cnnedu.ttest import paired_t_p

CLEAR_P = 0.05  # below this the verdict names a winner
MIN_SEEDS = 5   # the course names no winner from fewer seeds, however consistent


@dataclass(frozen=True)
class Verdict:
    """The numbers behind a printed verdict; ``text`` is what ``verdict`` printed."""

    effect: float        # mean over seeds of (a - b); positive: a scored higher
    sd: float            # sample standard deviation of the differences (nan for one seed)
    low: float           # smallest per-seed difference
    high: float          # largest per-seed difference
    agree: int           # seeds in which the better-on-average setting was better
    seeds: int           # seeds with a difference (ties are not counted as agreeing)
    p_value: float       # two-sided paired t-test of the per-seed differences
    clear: bool          # p below CLEAR_P: the verdict names a winner
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def headline(self) -> str:
        """The verdict without its numbers: "A beat B in this budget" or "Not separated ..."."""
        return self.text.splitlines()[0].split(":")[0]


def _check_results(name: str, values: Sequence[float], diverged: float | None) -> list[float]:
    values = [float(v) for v in values]
    if not values:
        raise ValueError(f"{name} must hold one result per seed, got none")
    if diverged is not None:
        values = [diverged if math.isnan(v) else v for v in values]
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ValueError(f"{name} must be finite numbers (a diverged run is not a score: pass "
                         f"diverged=<a stated worst value>), got {bad[0]}")
    return values


def verdict(a: Sequence[float], b: Sequence[float], name_a: str, name_b: str, *,
            metric: str = "test accuracy", higher_is_better: bool = True,
            scope: str = "in this budget, on Fashion-MNIST", quick: bool = False,
            full_run_found: str | None = None, diverged: float | None = None,
            digits: int = 3) -> Verdict:
    """Print and return the verdict of ``name_a`` against ``name_b`` from per-seed results.

    ``a[i]`` and ``b[i]`` come from the same seed (same data order), so the comparison is
    paired. ``quick=True`` (quick mode) prints that the run is too short to judge and what the
    full run found, ``full_run_found`` (required then), instead of a verdict. ``diverged``: the
    value that stands for a run that gave NaN (e.g. the guessing loss ln 10 for a training
    loss); the text says how many runs it replaced. Without it a NaN is an error.
    """
    nans = sum(math.isnan(float(v)) for v in [*a, *b])
    a = _check_results("a", a, diverged)
    b = _check_results("b", b, diverged)
    if len(a) != len(b):
        raise ValueError(f"a and b must hold one result per seed each, paired by seed; got "
                         f"{len(a)} and {len(b)}")
    if quick and not full_run_found:
        raise ValueError("full_run_found must say what the full run found when quick=True")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    effect = statistics.fmean(diffs)
    sd = statistics.stdev(diffs) if len(diffs) > 1 else math.nan
    a_ahead = effect > 0 if higher_is_better else effect < 0
    better, worse = (name_a, name_b) if a_ahead or effect == 0 else (name_b, name_a)
    sign = 1 if effect >= 0 else -1
    nonzero = [d for d in diffs if d != 0]
    agree = sum(1 for d in nonzero if d * sign > 0)
    p = paired_t_p(diffs)
    clear = effect != 0 and p < CLEAR_P and len(diffs) >= MIN_SEEDS
    f = f"+.{digits}f"
    spread = (f"{effect:{f}} ± {sd:.{digits}f} (mean ± sd), min {min(diffs):{f}}, "
              f"max {max(diffs):{f}}" if len(diffs) > 1 else f"{effect:{f}} (one seed, no spread)")
    p_text = f"p = {p:.3f}" if p >= 0.001 else "p < 0.001"
    numbers = (f"{metric}, {name_a} minus {name_b}, over {len(diffs)} seed(s): {spread}; "
               f"{better} ahead in {agree} of {len(diffs)} seeds (paired t-test, two-sided, "
               f"assuming roughly normal differences: {p_text})")
    if quick:
        text = (f"Quick mode: too short to judge {name_a} against {name_b} (these runs are a "
                f"few batches). The full run found: {full_run_found}\n({numbers})")
    elif clear:
        text = f"{better} beat {worse} {scope}: {numbers}."
    else:
        text = (f"Not separated {scope}: {numbers}. "
                + (f"The course names a winner only from {MIN_SEEDS} or more seeds."
                   if len(diffs) < MIN_SEEDS else "More seeds could tell."))
    if nans:
        text += f"\n({nans} diverged run(s) counted as {diverged:g})"
    print(text)
    return Verdict(effect, sd, min(diffs), max(diffs), agree, len(nonzero), p, clear, text)
