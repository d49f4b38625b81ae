"""Feature maps of any ``nn.Module``: what each chosen layer outputs for a given input.

First choice: torchvision's ``create_feature_extractor`` (symbolic tracing with torch.fx), which
can return any intermediate node. Tracing fails on models with data-dependent control flow
(``if x.sum() > 0:``) and some other Python, so the fallback registers forward hooks on the
chosen modules, which works on every model (but only for module outputs).

In-place ReLUs would overwrite a convolution's output after it was captured, so while the maps
are taken every ``ReLU(inplace=True)`` is switched to out-of-place and restored afterwards.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class FeatureMaps:
    """The maps by layer name (in the order asked) and which method produced them."""

    maps: dict[str, torch.Tensor]
    method: str  # "fx" or "hooks"

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.maps[name]

    def __iter__(self):
        return iter(self.maps)

    def __len__(self) -> int:
        return len(self.maps)


def conv_layer_names(model: nn.Module) -> list[str]:
    """Names of every ``nn.Conv2d`` in the model, in definition order."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


@contextmanager
def _no_inplace(model: nn.Module) -> Iterator[None]:
    changed = [m for m in model.modules() if getattr(m, "inplace", False) is True]
    for m in changed:
        m.inplace = False
    try:
        yield
    finally:
        for m in changed:
            m.inplace = True


def _check_layers(model: nn.Module, layers: Sequence[str]) -> None:
    names = dict(model.named_modules())
    unknown = [layer for layer in layers if layer not in names]
    if unknown:
        raise ValueError(f"no module named {unknown} in {type(model).__name__}; "
                         f"e.g. {list(names)[1:8]}")


def _with_fx(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    from torchvision.models.feature_extraction import create_feature_extractor

    extractor = create_feature_extractor(model, return_nodes=list(layers))
    out = extractor(x)
    return {layer: out[layer].detach() for layer in layers}


def _with_hooks(model: nn.Module, x: torch.Tensor,
                layers: Sequence[str]) -> dict[str, torch.Tensor]:
    modules = dict(model.named_modules())
    captured: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, inputs, output):
            captured.setdefault(name, output.detach().clone())
        return hook

    hooks = [modules[layer].register_forward_hook(keep(layer)) for layer in layers]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    missing = [layer for layer in layers if layer not in captured]
    if missing:
        raise RuntimeError(f"layers {missing} were not called in the forward pass")
    return {layer: captured[layer] for layer in layers}


def feature_maps(model: nn.Module, x: torch.Tensor, layers: Sequence[str] | None = None,
                 method: str = "auto", mode: str = "eval") -> FeatureMaps:
    """Outputs of ``layers`` (module names; default: every Conv2d) for input ``x``.

    ``method``: "auto" (fx, falling back to hooks when tracing fails), "fx" or "hooks".
    ``mode``: "eval" (default: what a trained model does at test time) or "train" (BatchNorm
    uses the batch's statistics, dropout is active: what the layers see while training). A
    "train" run works on a copy, so the model's running statistics are not changed.
    Runs without gradients; the model is left in the mode it was in.
    """
    if method not in ("auto", "fx", "hooks"):
        raise ValueError(f"method must be 'auto', 'fx' or 'hooks', got {method!r}")
    if mode not in ("eval", "train"):
        raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
    if mode == "train":
        model = copy.deepcopy(model)
    layers = list(layers) if layers is not None else conv_layer_names(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Conv2d layers: name the layers to take")
    _check_layers(model, layers)
    was_training = model.training
    model.train(mode == "train")
    try:
        with torch.no_grad(), _no_inplace(model):
            if method in ("auto", "fx"):
                try:
                    return FeatureMaps(_with_fx(model, x, layers), "fx")
                except Exception:
                    if method == "fx":
                        raise
            return FeatureMaps(_with_hooks(model, x, layers), "hooks")
    finally:
        model.train(was_training)
