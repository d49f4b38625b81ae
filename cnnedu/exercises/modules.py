"""Checking a learner's module against a library's: random weights, one loaded into the other.

Shared by the exercises that build a block (04.1, 04.2, 08.2): the reference is built with the
case's settings and randomised, its weights are loaded into the learner's module (each lesson
says in its own words what differs when they do not fit), and both run on the case's input.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .functions import Case, Mismatch


def randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, BatchNorm scales, shifts and running statistics: any bug shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            elif tensor.dim() > 1:                                 # conv weights, He-like scale
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * (2 / fan_in) ** 0.5)
            else:
                tensor.copy_(0.5 * torch.randn(tensor.shape, generator=generator)
                             + (1.0 if name.endswith("weight") else 0.0))
    return module


def module_runner(truth: Callable[..., nn.Module], what: str,
                  load: Callable[[nn.Module, dict, tuple], None],
                  not_module_hint: str = "return a module, e.g. nn.Identity().",
                  runtime_hints: dict[str, Mismatch] | None = None) -> Callable:
    """A runner that builds the reference (randomised) and the candidate with the case's
    settings, loads the reference's state dict into the candidate (``load(module, state,
    settings)`` raises :class:`Mismatch` when they differ) and runs the candidate on x.

    ``runtime_hints`` maps a piece of a RuntimeError's message (e.g. "must match the size", a
    failed addition) to the Mismatch to show instead; other errors propagate as they are.
    """

    def run(candidate, case: Case):
        settings, x, training = case.args
        reference = randomise(truth(*settings))
        module = candidate(*settings)
        if not isinstance(module, nn.Module):
            raise Mismatch(f"expected an nn.Module from {what}{settings}, got "
                           f"{type(module).__name__}", not_module_hint)
        load(module, reference.state_dict(), settings)
        module.train(training)
        try:
            with torch.no_grad():
                return module(x.clone())
        except RuntimeError as error:
            for piece, mismatch in (runtime_hints or {}).items():
                if piece in str(error):
                    raise mismatch from None
            raise

    return run
