"""Small VGG-, Inception- and DenseNet-style networks for 28x28 Fashion-MNIST (lesson 05).

Each keeps its family's defining idea at a size a 2-core CPU trains in about a minute:

* ``SmallVGG``: stacks of 3x3 convolutions (two per stage), max pooling between stages;
* ``SmallInception``: inception modules, four parallel branches (1x1; 1x1 -> 3x3;
  1x1 -> 5x5; 3x3 max pool -> 1x1) concatenated along channels;
* ``SmallDenseNet``: dense blocks where every layer receives the concatenation of all
  earlier layers' outputs (growth rate k new channels per layer), with 1x1 + average-pool
  transition layers between blocks.

All use BatchNorm and end with global average pooling and one linear layer.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    """Convolution (same padding, no bias), BatchNorm, ReLU: the unit all three nets build on."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallVGG(nn.Module):
    """Three stages of two 3x3 conv layers (widths w, 2w, 4w), 2x2 max pooling after each."""

    def __init__(self, width: int = 16, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for stage, cout in enumerate((width, 2 * width, 4 * width)):
            layers += [conv_bn_relu(cin, cout), conv_bn_relu(cout, cout)]
            if stage < 2:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class InceptionModule(nn.Module):
    """Four branches on the same input, concatenated: out channels = b1 + b3 + b5 + bp."""

    def __init__(self, cin: int, b1: int, r3: int, b3: int, r5: int, b5: int, bp: int):
        super().__init__()
        self.branch1 = conv_bn_relu(cin, b1, 1)
        self.branch3 = nn.Sequential(conv_bn_relu(cin, r3, 1), conv_bn_relu(r3, b3, 3))
        self.branch5 = nn.Sequential(conv_bn_relu(cin, r5, 1), conv_bn_relu(r5, b5, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                         conv_bn_relu(cin, bp, 1))
        self.out_channels = b1 + b3 + b5 + bp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x),
                          self.branch_pool(x)], dim=1)


class SmallInception(nn.Module):
    """Stem conv, two inception modules, pool, two more, global pool, linear."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(1, 24), nn.MaxPool2d(2))          # 14x14
        self.block1 = nn.Sequential(InceptionModule(24, 16, 16, 24, 4, 8, 8),     # -> 56
                                    InceptionModule(56, 24, 24, 32, 8, 16, 16))   # -> 88
        self.pool = nn.MaxPool2d(2)                                                # 7x7
        self.block2 = nn.Sequential(InceptionModule(88, 32, 32, 48, 8, 16, 16),   # -> 112
                                    InceptionModule(112, 48, 32, 64, 12, 24, 24))  # -> 160
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(160, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block2(self.pool(self.block1(self.stem(x)))))


class DenseLayer(nn.Module):
    """BN-ReLU-conv3x3 producing ``growth`` new channels, concatenated to its input."""

    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(self.relu(self.norm(x)))], dim=1)


class SmallDenseNet(nn.Module):
    """Stem, three dense blocks of ``layers`` layers (growth ``growth``) with transitions."""

    def __init__(self, growth: int = 12, layers: int = 4, num_classes: int = 10):
        super().__init__()
        channels = 2 * growth
        modules: list[nn.Module] = [nn.Conv2d(1, channels, 3, padding=1, bias=False)]
        for block in range(3):
            for _ in range(layers):
                modules.append(DenseLayer(channels, growth))
                channels += growth
            if block < 2:  # transition: halve the channels (1x1 conv) and the size (avg pool)
                modules += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
                            nn.Conv2d(channels, channels // 2, 1, bias=False), nn.AvgPool2d(2)]
                channels //= 2
        modules += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*modules)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
