"""ResNet from scratch, with torchvision's module names so its state dicts load unchanged.

``resnet18`` / ``resnet34`` / ``resnet50`` rebuild the ImageNet models of He et al. (2015);
``resnet_mini`` is the small CIFAR-style family of the same paper (section 4.2: depth 6n+2,
three stages of n blocks at widths w, 2w, 4w) for 28x28 Fashion-MNIST, where
``residual=False`` removes the shortcuts (the "plain" network of the paper) and
``batchnorm=False`` removes every BatchNorm, so both claims can be tested separately.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

NormFactory = Callable[[int], nn.Module]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """3x3 convolution with padding 1 (keeps the size at stride 1)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=bias)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """1x1 convolution: mixes channels, used to match shapes on the shortcut."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=bias)


def _no_norm(_: int) -> nn.Module:
    return nn.Identity()


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and an identity shortcut: ``relu(F(x) + x)``.

    ``downsample`` (a 1x1 conv + norm) replaces the identity when the stride or the channel count
    changes. With ``residual=False`` the block is ``relu(F(x))``: the same layers, no shortcut.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, norm_layer: NormFactory = nn.BatchNorm2d,
                 residual: bool = True):
        super().__init__()
        bias = norm_layer is _no_norm
        self.conv1 = conv3x3(inplanes, planes, stride, bias)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, bias=bias)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)

        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)
            out = out + identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 -> 1x1 (expand by 4) with a shortcut, as in torchvision's ResNet-50
    (stride on the 3x3 convolution, "ResNet v1.5")."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, norm_layer: NormFactory = nn.BatchNorm2d,
                 residual: bool = True):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x

        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))

        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)
            out = out + identity
        return self.relu(out)


Block = type[BasicBlock] | type[Bottleneck]


class ResNet(nn.Module):
    """The ImageNet ResNet: 7x7 stem, max pool, four stages, global average pool, one linear layer."""

    def __init__(self, block: Block, layers: list[int], num_classes: int = 1000,
                 in_channels: int = 3, norm_layer: NormFactory = nn.BatchNorm2d,
                 zero_init_residual: bool = False):
        super().__init__()
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers must list 4 positive block counts, got {layers!r}")
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        _init_weights(self, zero_init_residual)

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        self.inplanes, layer = _make_stage(block, self.inplanes, planes, blocks, stride,
                                           self._norm_layer, residual=True)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _make_stage(block: Block, inplanes: int, planes: int, blocks: int, stride: int,
                norm_layer: NormFactory, residual: bool) -> tuple[int, nn.Sequential]:
    """``blocks`` blocks; the first may change stride/width (with a 1x1 downsample shortcut)."""
    downsample = None
    if residual and (stride != 1 or inplanes != planes * block.expansion):
        downsample = nn.Sequential(
            conv1x1(inplanes, planes * block.expansion, stride, bias=norm_layer is _no_norm),
            norm_layer(planes * block.expansion),
        )
    layers = [block(inplanes, planes, stride, downsample, norm_layer, residual)]
    inplanes = planes * block.expansion
    layers += [block(inplanes, planes, norm_layer=norm_layer, residual=residual)
               for _ in range(1, blocks)]
    return inplanes, nn.Sequential(*layers)


def _init_weights(model: nn.Module, zero_init_residual: bool) -> None:
    # He et al. 2015 ("Delving deep into rectifiers"): keeps ReLU activations' variance stable.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) or (
                hasattr(m, "running_var") and hasattr(m, "weight")):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        # Goyal et al. 2017: each residual branch starts at zero, so the block starts as identity.
        # Without BatchNorm the branch's last convolution is zeroed instead (as in Fixup).
        for m in model.modules():
            if isinstance(m, (BasicBlock, Bottleneck)) and m.residual:
                last_norm = m.bn3 if isinstance(m, Bottleneck) else m.bn2
                last_conv = m.conv3 if isinstance(m, Bottleneck) else m.conv2
                target = last_norm if hasattr(last_norm, "weight") else last_conv
                nn.init.zeros_(target.weight)


def resnet18(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2]; same names and shapes as torchvision's."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, **kwargs)


def resnet34(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3]."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, **kwargs)


def resnet50(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3]."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, **kwargs)


class ResNetMini(nn.Module):
    """CIFAR-style ResNet for (N, 1, 28, 28): 3x3 stem, stages at 28, 14, 7 pixels, GAP, linear.

    ``stem_stride=2`` makes the stem a 3x3 convolution at stride 2, so the stages work at 14, 7
    and 4 pixels: about a quarter of the multiply-adds, as the ImageNet ResNet's stem (a 7x7
    convolution at stride 2 and a max pool) cuts its input by 4 in each direction before any
    residual block.
    """

    def __init__(self, depth: int = 20, width: int = 16, num_classes: int = 10,
                 residual: bool = True, batchnorm: bool = True, in_channels: int = 1,
                 zero_init_residual: bool = False,
                 norm_layer: NormFactory | None = None, stem_stride: int = 1):
        super().__init__()
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}")
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, ...), got {depth!r}")
        if width < 1:
            raise ValueError(f"width must be at least 1, got {width!r}")
        blocks = (depth - 2) // 6
        norm = norm_layer or (nn.BatchNorm2d if batchnorm else _no_norm)
        self.depth, self.residual, self.batchnorm = depth, residual, batchnorm
        self.conv1 = conv3x3(in_channels, width, stride=stem_stride, bias=not batchnorm)
        self.bn1 = norm(width)
        self.relu = nn.ReLU(inplace=True)
        inplanes = width
        inplanes, self.layer1 = _make_stage(BasicBlock, inplanes, width, blocks, 1, norm, residual)
        inplanes, self.layer2 = _make_stage(BasicBlock, inplanes, 2 * width, blocks, 2, norm,
                                            residual)
        inplanes, self.layer3 = _make_stage(BasicBlock, inplanes, 4 * width, blocks, 2, norm,
                                            residual)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)
        _init_weights(self, zero_init_residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet_mini(depth: int = 20, width: int = 16, residual: bool = True, batchnorm: bool = True,
                **kwargs) -> ResNetMini:
    """A depth-``depth`` (6n+2) CIFAR-style network; ``residual=False`` is the equal plain net."""
    return ResNetMini(depth, width, residual=residual, batchnorm=batchnorm, **kwargs)
