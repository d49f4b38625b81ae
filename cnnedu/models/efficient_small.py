"""Small MobileNetV2- and ConvNeXt-style networks for 28x28 Fashion-MNIST (lesson 08).

Both keep their family's defining block (:mod:`cnnedu.models.efficient`) at a size a 2-core
CPU trains in seconds per epoch, and end, like lesson 05's small families, with global average
pooling and one linear layer.

* ``SmallMobileNet``: a 3x3 stem, then stages of inverted residuals (expansion t, stride 2 at a
  stage's first block), a 1x1 to a wider head;
* ``SmallConvNeXt``: a 2x2 stride-2 "patchify" stem (ConvNeXt uses 4x4 stride 4 on 224x224
  images), stages of ConvNeXt blocks, LayerNorm + 2x2 stride-2 conv between stages.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnedu.models.efficient import ConvNeXtBlock, InvertedResidual, LayerNorm2d, conv_bn_act


class SmallMobileNet(nn.Module):
    """Stem 3x3 (1 -> w), then (t, channels, blocks, stride) stages, head 1x1 to 4·(last)."""

    def __init__(self, width: int = 16, expand: int = 4, num_classes: int = 10):
        super().__init__()
        stages = [(1, width, 1, 1), (expand, 2 * width, 2, 2), (expand, 4 * width, 2, 2)]
        layers: list[nn.Module] = [conv_bn_act(1, width, 3)]
        cin = width
        for t, cout, blocks, stride in stages:
            for i in range(blocks):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, t))
                cin = cout
        layers.append(conv_bn_act(cin, 4 * cin, 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4 * cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SmallConvNeXt(nn.Module):
    """Patchify stem to 14x14, stages of ``depths`` ConvNeXt blocks at ``dims`` channels."""

    def __init__(self, dims: tuple[int, ...] = (32, 64, 128), depths: tuple[int, ...] = (1, 1, 1),
                 layer_scale: float = 1e-6, num_classes: int = 10):
        super().__init__()
        if len(dims) != len(depths):
            raise ValueError(f"dims and depths must have the same length, got {dims} and {depths}")
        layers: list[nn.Module] = [nn.Conv2d(1, dims[0], 2, stride=2), LayerNorm2d(dims[0], eps=1e-6)]
        for i, (dim, depth) in enumerate(zip(dims, depths, strict=True)):
            if i > 0:
                layers += [LayerNorm2d(dims[i - 1], eps=1e-6),
                           nn.Conv2d(dims[i - 1], dim, 2, stride=2)]
            layers += [ConvNeXtBlock(dim, layer_scale) for _ in range(depth)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.LayerNorm(dims[-1], eps=1e-6), nn.Linear(dims[-1], num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
