"""The scaling model's guard rails, against hand-computed cases: how far a batch can be split,
weak-scaling speed-up, and the check that a prediction matches its one measurement."""

from __future__ import annotations

import numpy as np
import pytest

from cnnedu.distributed.scaling import (
    check_prediction,
    largest_worker_count,
    ring_allreduce_seconds,
    weak_scaling_speedup,
)


def test_largest_worker_count_keeps_32_images_each():
    assert largest_worker_count(8192) == 256          # Goyal et al.'s 256 GPUs
    assert largest_worker_count(128) == 4
    assert largest_worker_count(20) == 1               # never fewer than one worker
    assert largest_worker_count(100, per_worker=10) == 10
    with pytest.raises(ValueError, match="must be >= 1"):
        largest_worker_count(0)


def test_weak_scaling_by_hand():
    # 2 workers, 1 s of compute each, 1e9 bytes at 1e9 B/s, no latency:
    # all-reduce = 2 * 1/2 * 1 s = 1 s, so 2 workers do 2 batches in 2 s: speed-up 1.0
    assert weak_scaling_speedup(2, 1.0, 1e9, 1e9, 0.0) == pytest.approx(1.0)
    # one worker has no all-reduce: speed-up exactly 1
    assert weak_scaling_speedup(1, 0.3, 1e8, 1e9, 1e-5) == pytest.approx(1.0)
    n = np.array([4, 16])
    expected = n * 0.5 / (0.5 + ring_allreduce_seconds(n, 1e6, 1e9, 1e-5))
    assert np.allclose(weak_scaling_speedup(n, 0.5, 1e6, 1e9, 1e-5), expected)


def test_check_prediction_says_validated_or_not():
    ok, text = check_prediction(0.011, 0.010, "all-reduce")
    assert ok and "+10%" in text and "validated: within ±50%" in text
    ok, text = check_prediction(0.030, 0.072, "step")
    assert not ok and "-58%" in text and "NOT validated" in text
    with pytest.raises(ValueError, match="times must be positive"):
        check_prediction(0.0, 1.0, "x")
