"""Small, repeatable training experiments for the lessons: same data, same budget, many models."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cnnedu.config import seed_everything
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.train import History, fit


def compare_training(builders: dict[str, Callable[[], nn.Module]], train: FashionMNIST,
                     test: FashionMNIST | None, epochs: int, batch_size: int = 128,
                     max_batches: int | None = None, seed: int = 0, device=None,
                     progress: bool = True, **fit_kwargs) -> dict[str, History]:
    """Train each model from the same seed on the same batches; return their histories.

    Every run starts with ``seed_everything(seed)`` and a loader seeded alike, so the models see
    identical data in identical order: differences come from the models (or ``fit_kwargs``).
    """
    histories = {}
    for name, build in builders.items():
        seed_everything(seed)
        model = build()
        loader = BatchLoader(train, batch_size, shuffle=True, seed=seed, device=device or "cpu",
                             channels_last=fit_kwargs.get("channels_last", False))
        test_loader = None if test is None else BatchLoader(test, 1000, device=device or "cpu")
        histories[name] = fit(model, loader, test_loader, epochs=epochs, device=device,
                              max_batches=max_batches, progress=progress, **fit_kwargs)
    return histories


def smoothed(values: list[float], window: int = 20) -> list[float]:
    """Running mean over ``window`` steps (shorter at the start), for readable loss curves."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
