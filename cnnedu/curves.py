"""Loss curves made readable: the one running mean used by every plot of training losses."""

from __future__ import annotations

from collections.abc import Sequence


def smoothed(values: Sequence[float], window: int = 20) -> list[float]:
    """Running mean over the last ``window`` values (fewer at the start), for readable curves.

    One step's loss depends on which batch it drew; the mean of the last steps shows the trend.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
