"""The paired t-test, two-sided, written out (no SciPy needed).

Why this test for the course's verdicts: with 5 seeds, every exact distribution-free test of
paired results (sign test, signed-rank, sign-flip permutation) has a smallest two-sided p of
2/32 = 0.0625, so none could ever name a winner at 0.05, however consistent the seeds. The
t-test can, at the price of an assumption: that the per-seed differences are roughly normal.
The verdict line states that assumption next to the p value.

The two-sided p of t with ``df`` degrees of freedom is I_x(df/2, 1/2) with x = df / (df + t²),
the regularized incomplete beta function, evaluated by its continued fraction (Lentz's method,
as in Numerical Recipes, section 6.4).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (converges for x < (a+1)/(a+b+2))."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    if math.isinf(t):
        return 0.0
    return regularized_beta(df / 2.0, 0.5, df / (df + t * t))


def paired_t_p(differences: Sequence[float]) -> float:
    """Two-sided p of the paired t-test that the mean of ``differences`` is 0.

    One difference: 1.0 (no spread, nothing to test). All differences equal and non-zero: 0.0
    (no spread at all; the t statistic is infinite). All zero: 1.0.
    """
    n = len(differences)
    if n < 2:
        return 1.0
    mean = statistics.fmean(differences)
    sd = statistics.stdev(differences)
    if sd == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    return t_two_sided_p(mean / (sd / math.sqrt(n)), n - 1)
