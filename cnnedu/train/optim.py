"""Optimizers and learning-rate schedules by name: what ``fit``, the recipes and the worker use."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def make_optimizer(name: str, params: Iterable[nn.Parameter], lr: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    """``sgd`` (Nesterov momentum 0.9), ``adamw`` or ``adam``; anything else is a ValueError."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True,
                               weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adamw' or 'adam', got {name!r}")


def make_scheduler(name: str | None, optimizer: torch.optim.Optimizer,
                   total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``onecycle`` (warm up then anneal: fast convergence in few epochs), ``cosine`` or None.

    The optimizer's own learning rate (per parameter group) is the schedule's peak: one-cycle
    rises to it, cosine starts from it. So one rule holds whoever built the optimizer.

    One-cycle needs at least 4 steps (two per phase; PyTorch divides by zero otherwise): shorter
    runs, such as quick runs of a few batches, train at a constant ``lr``.
    """
    if name not in (None, "constant", "onecycle", "cosine"):
        raise ValueError(f"scheduler must be 'onecycle', 'cosine', 'constant' or None, got {name!r}")
    if name is None or name == "constant":
        return None
    if name == "onecycle":
        if total_steps < 4:
            return None
        peaks = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total_steps,
                                                   pct_start=max(0.25, 2.0 / total_steps))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
