"""A per-layer table of a model: output shape, parameters, FLOPs and receptive field.

FLOPs are PyTorch's own count (``torch.utils.flop_counter.FlopCounterMode``: a multiply-add is
2 FLOPs; only matrix products and convolutions are counted). Receptive fields come from
:mod:`cnnedu.receptive_field`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnedu.device import model_device
from cnnedu.receptive_field import GLOBAL, FieldTracker, ReceptiveField


@dataclass
class LayerRow:
    """One leaf module's line in the table."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    flops: int
    field: ReceptiveField


def _leaf_modules(model: nn.Module) -> dict[nn.Module, str]:
    """Leaf modules by name; a model that is itself one layer is its own leaf ("")."""
    return {module: name for name, module in model.named_modules()
            if not list(module.children()) and (name or module is model)}


def layer_table(model: nn.Module, input_shape: tuple[int, ...],
                device: torch.device | str = "cpu") -> list[LayerRow]:
    """Run one eval forward on zeros of ``input_shape`` and describe every leaf module, in order.

    A module called twice (e.g. a shared ReLU) gets one row per call.
    """
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (N, C, H, W), got {input_shape!r}")
    names = _leaf_modules(model)
    records: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: records.append((mod, out)))
             for m in names]
    x = torch.zeros(input_shape, device=device)
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter, FieldTracker(x) as tracker:
            model(x)
            fields = dict(tracker.fields)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    flop_counts = counter.get_flop_counts()
    prefix = type(model).__name__
    rows = []
    for module, out in records:
        name = names[module]
        key = f"{prefix}.{name}" if name else prefix
        flops = sum(flop_counts.get(key, {}).values())
        name = name or type(module).__name__
        field = fields.get(id(out), ReceptiveField(GLOBAL, 0))
        rows.append(LayerRow(name, type(module).__name__, tuple(out.shape),
                             sum(p.numel() for p in module.parameters(recurse=False)),
                             int(flops), field))
    return rows


def total_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one eval forward of ``model`` on an input of ``input_shape``, as PyTorch counts."""
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(torch.zeros(input_shape, device=model_device(model)))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def count_layers(model: nn.Module, kind: type[nn.Module] | tuple[type[nn.Module], ...]) -> int:
    """How many modules of ``kind`` the model contains."""
    return sum(isinstance(m, kind) for m in model.modules())


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _fmt(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(n)


def format_table(rows: list[LayerRow], skip_kinds: tuple[str, ...] = ()) -> str:
    """The table as fixed-width text, with totals (rows of ``skip_kinds`` are hidden)."""
    lines = [f"{'layer':22s} {'type':18s} {'output shape':20s} {'params':>9s} {'FLOPs':>10s} "
             f"{'receptive field':>18s}"]
    for r in rows:
        if r.kind in skip_kinds:
            continue
        lines.append(f"{r.name:22s} {r.kind:18s} {str(r.output_shape):20s} {_fmt(r.params):>9s} "
                     f"{_fmt(r.flops):>10s} {str(r.field):>18s}")
    lines.append(f"{'total':22s} {'':18s} {'':20s} {_fmt(sum(r.params for r in rows)):>9s} "
                 f"{_fmt(sum(r.flops for r in rows)):>10s}")
    return "\n".join(lines)
