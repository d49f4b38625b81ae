"""What one channel of a layer responds to: its top-activating images and where in them.

The box drawn for a unit is its receptive field (size and jump from
:mod:`cnnedu.receptive_field`), centred at ``position * jump``, which holds when every
convolution and pooling is "same"-padded (padding = (kernel - 1) / 2), as in the course's
ResNets; it is clipped to the image, so it is always drawn inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cnnedu.receptive_field import GLOBAL, FieldTracker, ReceptiveField


def layer_output(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The output of ``layer`` when ``model`` runs on ``x`` (no gradients)."""
    caught: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: caught.append(out))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    if not caught:
        raise ValueError(f"layer {type(layer).__name__} is not used by the model's forward pass")
    return caught[-1]


def layer_field(model: nn.Module, layer: nn.Module, input_shape: tuple[int, ...]) -> ReceptiveField:
    """Receptive field (size, jump) of one unit of ``layer``'s output, traced on zeros."""
    x = torch.zeros(input_shape)
    caught: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: caught.append(out))
    try:
        with torch.no_grad(), FieldTracker(x) as tracker:
            model(x)
            return tracker.fields[id(caught[-1])]
    finally:
        handle.remove()


@dataclass
class TopUnit:
    """One image's strongest unit of a channel: image index, activation, unit (row, col)."""

    index: int
    value: float
    row: int
    col: int


def top_activating(model: nn.Module, layer: nn.Module, x: torch.Tensor, channel: int,
                   k: int = 8, batch_size: int = 500) -> list[TopUnit]:
    """The ``k`` images of ``x`` whose strongest unit in ``channel`` of ``layer`` is largest."""
    best = []
    for start in range(0, len(x), batch_size):
        out = layer_output(model, layer, x[start:start + batch_size])
        if out.dim() != 4:
            raise ValueError(f"layer must output (N, C, H, W) maps, got {tuple(out.shape)}")
        if not 0 <= channel < out.shape[1]:
            raise ValueError(f"channel must lie in [0, {out.shape[1]}), got {channel}")
        maps = out[:, channel].flatten(1)
        value, where = maps.max(dim=1)
        for i in range(len(value)):
            best.append(TopUnit(start + i, float(value[i]), int(where[i]) // out.shape[-1],
                                int(where[i]) % out.shape[-1]))
    best.sort(key=lambda u: -u.value)
    return best[:k]


def unit_box(field: ReceptiveField, row: int, col: int,
             image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), inclusive pixel indices, of the unit's receptive field
    clipped to the image."""
    height, width = image_size
    if field.size == GLOBAL:
        return 0, 0, height - 1, width - 1
    half = (field.size - 1) // 2
    cy, cx = row * field.jump, col * field.jump
    return (max(0, cy - half), max(0, cx - half), min(height - 1, cy + half),
            min(width - 1, cx + half))
