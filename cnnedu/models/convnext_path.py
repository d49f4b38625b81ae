"""From ResNet's bottleneck block to ConvNeXt's block, one design change at a time (lesson 08).

Liu et al. (2022, "A ConvNet for the 2020s") modernised ResNet-50 step by step. At the level of
one block the steps are the fields of :class:`BlockDesign`; :data:`PATH` lists the designs in
order, each differing from the one before in exactly one field, from ResNet's bottleneck to
ConvNeXt's block. :class:`DesignBlock` builds any of them, and :func:`to_torchvision_cnblock`
copies the last one's weights into torchvision's ``CNBlock`` (the lesson shows they agree).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from cnnedu.models.efficient import LayerNorm2d


@dataclass(frozen=True)
class BlockDesign:
    """One block design; ``dim`` channels in and out, ``mid_ratio * dim`` inside."""

    mid_ratio: float = 0.25      # ResNet's bottleneck squeezes to dim / 4
    depthwise: bool = False      # the k x k conv has one kernel per channel (groups = channels)
    dw_first: bool = False       # k x k depthwise conv first, then 1x1 up and 1x1 down
    kernel: int = 3
    act: str = "relu"            # "relu" or "gelu"
    every_act: bool = True       # an activation after each conv but the last, and after the sum
    every_norm: bool = True      # a norm after every conv (else only after the first)
    norm: str = "bn"             # "bn" (BatchNorm2d) or "ln" (LayerNorm over channels)
    layer_scale: float | None = None   # learned per-channel scale of the branch, started here


def _changed(**changes) -> BlockDesign:
    return dataclasses.replace(PATH[-1][1], **changes)


PATH: list[tuple[str, BlockDesign]] = [("ResNet bottleneck: 1x1 down, 3x3, 1x1 up", BlockDesign())]
for _step, _changes in [
        ("3x3 made depthwise (ResNeXt's groups, one per channel)", {"depthwise": True}),
        ("inverted bottleneck: 1x1 up to 4x, 3x3, 1x1 down", {"mid_ratio": 4.0}),
        ("depthwise conv moved up, before the 1x1s", {"dw_first": True}),
        ("kernel 3x3 -> 7x7", {"kernel": 7}),
        ("ReLU -> GELU", {"act": "gelu"}),
        ("one activation only, between the 1x1s", {"every_act": False}),
        ("one norm only, after the depthwise conv", {"every_norm": False}),
        ("BatchNorm -> LayerNorm over channels", {"norm": "ln"}),
        ("layer scale 1e-6 on the branch", {"layer_scale": 1e-6})]:
    PATH.append((_step, _changed(**_changes)))


class DesignBlock(nn.Module):
    """``x + branch(x)`` for one :class:`BlockDesign`; ``layers[i]`` = conv i with its norm and
    activation. A conv has a bias unless a BatchNorm follows it (BN's shift would cancel it)."""

    def __init__(self, dim: int, design: BlockDesign):
        super().__init__()
        if design.act not in ("relu", "gelu") or design.norm not in ("bn", "ln"):
            raise ValueError(f"act must be 'relu' or 'gelu' and norm 'bn' or 'ln', got {design}")
        self.design = design
        mid, k = int(dim * design.mid_ratio), design.kernel
        if design.dw_first:
            convs = [(dim, dim, k, dim), (dim, mid, 1, 1), (mid, dim, 1, 1)]
        else:
            convs = [(dim, mid, 1, 1), (mid, mid, k, mid if design.depthwise else 1),
                     (mid, dim, 1, 1)]
        act_after = {0, 1} if design.every_act else {1}
        self.layers = nn.ModuleList()
        for i, (cin, cout, kernel, groups) in enumerate(convs):
            has_norm = design.every_norm or i == 0
            unit = [nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups,
                              bias=not (has_norm and design.norm == "bn"))]
            if has_norm:
                unit.append(nn.BatchNorm2d(cout) if design.norm == "bn" else LayerNorm2d(cout, eps=1e-6))
            if i in act_after:
                unit.append(self._act())
            self.layers.append(nn.Sequential(*unit))
        self.layer_scale = None if design.layer_scale is None else \
            nn.Parameter(torch.full((dim, 1, 1), design.layer_scale))
        self.post_act = self._act() if design.every_act else nn.Identity()

    def _act(self) -> nn.Module:
        return nn.ReLU(inplace=True) if self.design.act == "relu" else nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.layers:
            out = layer(out)
        if self.layer_scale is not None:
            out = self.layer_scale * out
        return self.post_act(x + out)


def to_torchvision_cnblock(block: DesignBlock) -> dict[str, torch.Tensor]:
    """The state dict of torchvision's ``CNBlock`` holding the weights of the last design of
    :data:`PATH` (its 1x1 convs become ``nn.Linear`` weights: the same numbers, reshaped)."""
    if block.design != PATH[-1][1]:
        raise ValueError(f"only ConvNeXt's design (PATH[-1]) maps to CNBlock, got {block.design}")
    dw, norm = block.layers[0][0], block.layers[0][1]
    up, down = block.layers[1][0], block.layers[2][0]
    return {"layer_scale": block.layer_scale.detach().clone(),
            "block.0.weight": dw.weight, "block.0.bias": dw.bias,
            "block.2.weight": norm.weight, "block.2.bias": norm.bias,
            "block.3.weight": up.weight.flatten(1), "block.3.bias": up.bias,
            "block.5.weight": down.weight.flatten(1), "block.5.bias": down.bias}
