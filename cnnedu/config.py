"""The course's switches, read from the environment in one place.

* ``CNNEDU_SMOKE=1``  -> short runs (a few batches) so CI can execute every notebook quickly.
* ``CNNEDU_DATA=DIR`` -> a folder holding the Fashion-MNIST idx files (tried first).
* ``CNNEDU_DEVICE``   -> ``auto`` (default), ``cpu``, ``cuda``, ``cuda:1`` or ``mps``.

Notebooks read these once, in their parameters cell, through :func:`smoke_mode` etc.,
so a learner sees exactly which mode a run used.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def smoke_mode(quick: bool | None = None) -> bool:
    """True for short runs: ``quick`` when a lesson's parameters cell sets it, else ``CNNEDU_SMOKE``.

    ``quick=None`` (the parameters cells' default) follows the environment, so the tests' and
    CI's ``CNNEDU_SMOKE=1`` still works; ``quick=True`` lets a learner pick quick mode inside the
    notebook, without restarting JupyterLab. Anything unrecognised is an error.
    """
    if quick is not None:
        if not isinstance(quick, bool):
            raise ValueError(f"QUICK must be True, False or None, got {quick!r}")
        return quick
    raw = os.environ.get("CNNEDU_SMOKE", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"CNNEDU_SMOKE must be 0 or 1 (or true/false), got {raw!r}")


def data_dir() -> Path | None:
    """The folder named by ``CNNEDU_DATA``, or None when unset."""
    raw = os.environ.get("CNNEDU_DATA", "").strip()
    return Path(raw).expanduser() if raw else None


def device_setting() -> str:
    """The raw ``CNNEDU_DEVICE`` value, ``auto`` when unset."""
    return os.environ.get("CNNEDU_DEVICE", "auto").strip().lower() or "auto"


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch (CPU and all GPUs) so a rerun shows the same numbers.

    Returns the seed so a notebook can print it. cuDNN autotuning is switched off because it
    may pick different (non-deterministic) algorithms from run to run.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.benchmark = False
    return seed
