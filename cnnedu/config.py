"""The course's switches, read from the environment in one place.

* ``CNNEDU_QUICK=1``  -> quick mode: short runs (a few batches) so CI can execute every notebook
  quickly; the lessons' ``QUICK`` parameter, when set, wins over it.
* ``CNNEDU_DATA=DIR`` -> a folder holding the Fashion-MNIST idx files (tried first).
* ``CNNEDU_DEVICE``   -> ``auto`` (default), ``cpu``, ``cuda``, ``cuda:1`` or ``mps``.

Notebooks read these once, in their parameters cell, through :func:`quick_mode` etc.,
so a learner sees exactly which mode a run used. One word for the short runs everywhere:
"quick" (``QUICK``, ``CNNEDU_QUICK``, ``quick_mode``, ``build_notebooks.py --quick``).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def quick_mode(quick: bool | None = None) -> bool:
    """True for short runs: ``quick`` when a lesson's parameters cell sets it, else ``CNNEDU_QUICK``.

    ``quick=None`` (the parameters cells' default) follows the environment, so the tests' and
    CI's ``CNNEDU_QUICK=1`` works; ``quick=True`` lets a learner pick quick mode inside the
    notebook, without restarting JupyterLab. Anything unrecognised is an error, and so is the
    old name ``CNNEDU_SMOKE`` left set without ``CNNEDU_QUICK``: ignoring it would silently
    turn a quick run into a full one of many minutes.
    """
    if quick is not None:
        if not isinstance(quick, bool):
            raise ValueError(f"QUICK must be True, False or None, got {quick!r}")
        return quick
    if "CNNEDU_QUICK" not in os.environ and os.environ.get("CNNEDU_SMOKE", "").strip():
        raise ValueError("CNNEDU_SMOKE was renamed CNNEDU_QUICK: set CNNEDU_QUICK="
                         f"{os.environ['CNNEDU_SMOKE'].strip()!r} instead")
    raw = os.environ.get("CNNEDU_QUICK", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"CNNEDU_QUICK must be 0 or 1 (or true/false), got {raw!r}")


def smoke_mode(quick: bool | None = None) -> bool:
    """The old name of :func:`quick_mode`, kept because learners' copies of the lessons made
    before the rename (``my_lessons/``, ``cnnedu lessons DIR``, graded submissions) call it."""
    return quick_mode(quick)


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
