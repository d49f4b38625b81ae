"""Costs of whole models side by side: convolutions, parameters, FLOPs, activation memory, latency."""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnedu.layer_table import count_layers, count_params, total_flops


@dataclass
class Profile:
    """Costs of one model at one input shape (see :func:`profile`)."""

    conv2d_count: int
    params: int
    flops: int
    activation_bytes: int
    latency_ms: float


def saved_activation_bytes(model: nn.Module, input_shape: tuple[int, ...],
                           device: torch.device | str = "cpu") -> int:
    """Bytes of the tensors autograd saves for backward in one training-mode forward.

    That is the memory training needs besides weights, gradients and optimiser state. Tensors
    saved several times (e.g. a ReLU output read by the next convolution) are counted once, and
    parameters (saved by every convolution) are not activations, so they are left out. Runs on a
    copy of the model so BatchNorm's running statistics are not changed.
    """
    probe = copy.deepcopy(model).to(device).train()
    parameter_storages = {p.untyped_storage().data_ptr() for p in probe.parameters()}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_storages:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    x = torch.zeros(input_shape, device=device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        probe(x)
    return sum(seen.values())


def median_latency_ms(model: nn.Module, input_shape: tuple[int, ...],
                      device: torch.device | str = "cpu", warmup: int = 2,
                      repeats: int = 5) -> float:
    """Median wall time of an eval-mode forward without gradients, after ``warmup`` runs."""
    device = torch.device(device)
    was_training = model.training
    model.eval().to(device)
    x = torch.zeros(input_shape, device=device)
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                model(x)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if i >= warmup:
                    times.append((time.perf_counter() - start) * 1000)
    finally:
        model.train(was_training)
    return statistics.median(times)


def profile(model: nn.Module, input_shape: tuple[int, ...], device: torch.device | str = "cpu",
            repeats: int = 5) -> Profile:
    """Conv count, parameters, FLOPs (PyTorch's counter, one eval forward), saved activation
    bytes (one training forward) and median latency (eval forward on ``device``)."""
    model = model.to(device)
    return Profile(
        conv2d_count=count_layers(model, nn.Conv2d),
        params=count_params(model),
        flops=total_flops(model, input_shape),
        activation_bytes=saved_activation_bytes(model, input_shape, device),
        latency_ms=median_latency_ms(model, input_shape, device, repeats=repeats),
    )


def compare(models: dict[str, nn.Module], input_shape: tuple[int, ...] | dict[str, tuple],
            device: torch.device | str = "cpu", repeats: int = 5) -> dict[str, Profile]:
    """:func:`profile` of each model; ``input_shape`` may be one shape or a shape per model."""
    shapes = input_shape if isinstance(input_shape, dict) else dict.fromkeys(models, input_shape)
    return {name: profile(model, shapes[name], device, repeats) for name, model in models.items()}


def profiles_text(profiles: dict[str, Profile], extra: dict[str, dict[str, str]] | None = None) -> str:
    """The comparison as a fixed-width table; ``extra`` adds columns per model (name -> value)."""
    extra = extra or {}
    columns = sorted({key for values in extra.values() for key in values})
    width = max([14, *map(len, profiles)])        # the longest model name sets the first column
    header = (f"{'model':{width}s} {'conv':>5s} {'params':>9s} {'GFLOPs':>8s} {'activations':>12s} "
              f"{'latency':>10s}" + "".join(f" {c:>10s}" for c in columns))
    lines = [header]
    for name, p in profiles.items():
        lines.append(f"{name:{width}s} {p.conv2d_count:5d} {p.params / 1e6:8.1f}M {p.flops / 1e9:8.2f} "
                     f"{p.activation_bytes / 2**20:9.1f} MiB {p.latency_ms:7.1f} ms"
                     + "".join(f" {extra.get(name, {}).get(c, ''):>10s}" for c in columns))
    return "\n".join(lines)


def percentiles(values: list[float], qs: tuple[float, ...] = (50, 95)) -> list[float]:
    """The ``qs`` percentiles of ``values`` as measured samples (NumPy's ``method="lower"``:
    the sample at rank floor(q/100 * (n - 1)) of the sorted values, never an interpolation).

    The one percentile rule of the latency benchmarks, so their p50 / p95 mean the same thing.
    """
    if not values:
        raise ValueError("percentiles need at least one value, got none")
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), qs, method="lower")]
