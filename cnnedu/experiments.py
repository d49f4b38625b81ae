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


def steps_for_budget(model: nn.Module, loader, seconds: float, device=None,
                     probe_steps: int = 3) -> int:
    """How many training steps of ``model`` fit in ``seconds`` (timed on a few real batches).

    The probe steps train a throw-away copy, so ``model`` itself is unchanged.
    """
    import copy
    import time

    import torch

    probe = copy.deepcopy(model).to(device or "cpu").train()
    optimizer = torch.optim.SGD(probe.parameters(), lr=0.0)
    batches = iter(loader)
    times = []
    for _ in range(probe_steps + 1):
        x, y = next(batches)
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(probe(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    per_step = sorted(times[1:])[len(times[1:]) // 2]       # median, first (warm-up) dropped
    return max(1, int(seconds / per_step))


def split_steps(steps: int, batches_per_epoch: int) -> tuple[int, int]:
    """Spread ``steps`` over as few epochs as possible: (epochs, steps per epoch), using all of
    ``steps`` up to rounding (e.g. 800 steps of 469-batch epochs -> 2 epochs of 400)."""
    epochs = max(1, -(-steps // batches_per_epoch))
    return epochs, max(1, min(batches_per_epoch, steps // epochs))


def train_with_budget(build: Callable[[], nn.Module], train: FashionMNIST, test: FashionMNIST,
                      seconds: float, batch_size: int = 128, seed: int = 0, device=None,
                      progress: bool = True, **fit_kwargs) -> tuple[nn.Module, History, int]:
    """Train a fresh model for about ``seconds``: the step count is sized to the budget first,
    so the one-cycle schedule completes. Returns the model, its history and the steps taken."""
    seed_everything(seed)
    model = build()
    channels_last = fit_kwargs.get("channels_last", False)
    loader = BatchLoader(train, batch_size, shuffle=True, augment=True, shift=0, seed=seed,
                         device=device or "cpu", channels_last=channels_last)
    if channels_last:
        import torch

        model = model.to(memory_format=torch.channels_last)
    steps = steps_for_budget(model, loader, seconds, device)
    epochs, per_epoch = split_steps(steps, len(loader))
    test_loader = BatchLoader(test, 1000, device=device or "cpu", channels_last=channels_last)
    history = fit(model, loader, test_loader, epochs=epochs, max_batches=per_epoch,
                  device=device, progress=progress, **fit_kwargs)
    return model, history, epochs * per_epoch
