"""Small, repeatable training experiments for the lessons: same data, same budget, many models."""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn
from torch.optim.swa_utils import update_bn
from tqdm.auto import tqdm

from cnnedu.config import seed_everything
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.device import model_device, resolve_device, synchronize
from cnnedu.train import History, autocast, fit

T = TypeVar("T")   # what one run of over_seeds returns

def compare_training(builders: dict[str, Callable[[], nn.Module]], train: FashionMNIST,
                     test: FashionMNIST | None, epochs: int, batch_size: int = 128,
                     max_batches: int | None = None, seed: int = 0, device=None,
                     progress: bool = True, channels_last: bool = False,
                     **fit_kwargs) -> dict[str, History]:
    """Train each model from the same seed on the same batches; return their histories.

    Every run starts with ``seed_everything(seed)`` and a loader seeded alike, so the models see
    identical data in identical order: differences come from the models (or ``fit_kwargs``).
    ``channels_last`` sets the memory layout of the batches and the model alike; ``fit_kwargs``
    go to :func:`cnnedu.train.fit` untouched (optimizer, lr, schedule ...).
    """
    device = resolve_device(device)
    histories = {}
    for name, build in builders.items():
        seed_everything(seed)
        model = build()
        loader = BatchLoader(train, batch_size, shuffle=True, seed=seed, device=device,
                             channels_last=channels_last)
        test_loader = None if test is None else BatchLoader(test, 1000, device=device,
                                                            channels_last=channels_last)
        histories[name] = fit(model, loader, test_loader, epochs=epochs, device=device,
                              max_batches=max_batches, progress=progress,
                              channels_last=channels_last, **fit_kwargs)
    return histories


def compare_over_seeds(builders: dict[str, Callable[[], nn.Module]], train: FashionMNIST,
                       test: FashionMNIST | None, epochs: int, seeds: tuple[int, ...] = (0, 1, 2),
                       progress: bool = True, **kwargs) -> dict[str, list[History]]:
    """:func:`compare_training` once per seed: ``{name: [history per seed]}``.

    One run is one model and one seed, and each run seeds itself at its start, so nothing run
    between cells (a widget, another experiment) changes its result. One seed says little: the
    spread over seeds says how far a difference between models can be trusted. ``progress``
    shows one bar over all runs, with the time left.
    """
    return over_seeds(builders, seeds, lambda name, build, seed: compare_training(
        {name: build}, train, test, epochs, seed=seed, progress=False, **kwargs)[name], progress)


def over_seeds(builders: dict[str, Callable[[], nn.Module]], seeds: tuple[int, ...],
               run: Callable[[str, Callable[[], nn.Module], int], T],
               progress: bool = True) -> dict[str, list[T]]:
    """``run(name, build, seed)`` for every seed and every model: ``{name: [result per seed]}``,
    seeds in the outer loop, with one progress bar over all runs."""
    if not seeds:
        raise ValueError("seeds must name at least one seed, got an empty sequence")
    results: dict[str, list[T]] = {name: [] for name in builders}
    bar = tqdm(total=len(builders) * len(seeds), desc="runs", unit="run", disable=not progress)
    for seed in seeds:
        for name, build in builders.items():
            bar.set_postfix_str(f"{name}, seed {seed}")
            results[name].append(run(name, build, seed))
            bar.update(1)
    bar.close()
    return results


def final_train_loss(history: History, tail: int = 30) -> float:
    """Mean training loss of the last ``tail`` steps (NaN if the run diverged)."""
    value = history.recent_loss(tail)
    return value if math.isfinite(value) else float("nan")


def spread(values: list[float]) -> tuple[float, float, float]:
    """(mean, min, max) of one measure over seeds; NaN if any run diverged."""
    if any(not math.isfinite(v) for v in values):
        return float("nan"), float("nan"), float("nan")
    return statistics.fmean(values), min(values), max(values)


def spread_text(values: list[float], digits: int = 3) -> str:
    """``mean [min, max]`` for printing (``diverged`` if a run gave NaN)."""
    mean, low, high = spread(values)
    if not math.isfinite(mean):
        return "diverged"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def reestimate_batchnorm(model: nn.Module, loader, batches: int = 50,
                         precision: str = "fp32") -> nn.Module:
    """Recompute every BatchNorm's running mean and variance with the weights as they are now.

    The running statistics are moving averages collected while the weights kept changing, so
    after short, fast training they describe an older network. PyTorch's
    ``torch.optim.swa_utils.update_bn`` resets them and averages over the batches in train mode
    (``momentum=None``: a plain cumulative average, no gradients), then restores the momenta
    and the mode; here it sees the first ``batches`` training batches, under the autocast of
    ``precision`` (the one the model was trained and is evaluated in: its BatchNorms then see
    the activations they will normalise). A model without BatchNorm is an error (``update_bn``
    would silently do nothing).
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise ValueError("model has no BatchNorm layer to re-estimate")
    device = model_device(model)
    with autocast(precision, device):
        update_bn(itertools.islice(loader, batches), model, device=device)
    return model

def seconds_per_training_step(build: Callable[[], nn.Module], input_shape: tuple[int, ...],
                              channels_last: bool = False, steps: int = 10, seed: int = 0,
                              device=None) -> float:
    """Median seconds of one training step (forward, backward, AdamW step) of a fresh model on
    a random batch of ``input_shape``, in channels-last or the default (contiguous) layout.

    The first step (allocation, kernel choice) is not counted. Used to check, on this machine,
    what a memory layout buys instead of repeating what it buys elsewhere.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    seed_everything(seed)
    device = resolve_device(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = build().to(device, memory_format=memory_format).train()
    x = torch.randn(input_shape, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, 10, (input_shape[0],), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times = []
    for _ in range(steps + 1):
        synchronize(device)
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()          # set_to_none=True, the default
        loss.backward()
        optimizer.step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def gradient_spread(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    names: list[str]) -> dict[str, float]:
    """Standard deviation of the loss gradient at the output of each named module, from one
    backward pass in training mode: how strong the learning signal is on its way back.

    Tensor hooks (not module backward hooks, which clash with in-place ReLUs) catch each
    gradient; the model's parameter gradients are cleared again afterwards.
    """
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(f"no module named {missing} in the model")
    spreads: dict[str, float] = {}

    def catch(name):
        def forward_hook(_module, _inputs, output):
            output.register_hook(lambda grad: spreads.__setitem__(name, grad.std().item()))
        return forward_hook

    handles = [modules[n].register_forward_hook(catch(n)) for n in names]
    was_training = model.training
    try:
        model.train()
        nn.functional.cross_entropy(model(x), y).backward()
    finally:
        for handle in handles:
            handle.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return {n: spreads[n] for n in names}


def ablate_recipe(recipe, variants: dict[str, dict], train: FashionMNIST, test: FashionMNIST,
                  epochs: int, seed: int = 0, device=None, max_batches: int | None = None,
                  progress: bool = True) -> dict[str, History]:
    """Train ``recipe`` once per variant, each with some settings changed: what each piece buys.

    A variant maps :class:`cnnedu.recipes.Recipe` field names (``optimizer``, ``lr``,
    ``label_smoothing``, ``augment``, ``scheduler`` ...) to new values;
    ``{}`` is the recipe itself. Every run seeds itself alike and sees the same batches in the
    same order, so the differences come from the changed settings (and one seed's noise).
    """
    device = resolve_device(device)
    fields = {f.name for f in dataclasses.fields(recipe)}
    results = {}
    bar = tqdm(total=len(variants), desc="variants", unit="run", disable=not progress)
    for name, changes in variants.items():
        unknown = set(changes) - fields
        if unknown:
            raise ValueError(f"variant {name!r} changes unknown settings {sorted(unknown)}")
        variant = dataclasses.replace(recipe, epochs=epochs, **changes)
        bar.set_postfix_str(name)
        seed_everything(seed)
        model = variant.build()
        results[name] = fit(model, variant.train_loader(train, device, seed=seed),
                            variant.test_loader(test, device), device=device,
                            max_batches=max_batches, progress=False,
                            **variant.fit_kwargs())
        bar.update(1)
    bar.close()
    return results
