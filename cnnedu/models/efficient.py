"""The building blocks of efficient convnets (lesson 08), from scratch, named as torchvision's.

* :func:`depthwise_conv2d` and :func:`grouped_conv2d`: ``F.conv2d(..., groups=g)`` written with
  ``unfold`` and one product per group, so the "one kernel per channel" idea is visible;
* :func:`depthwise_separable`: a depthwise k x k convolution followed by a 1x1 (MobileNet v1);
* :class:`InvertedResidual`: MobileNetV2's block (expand 1x1, depthwise 3x3, linear 1x1
  projection), same layer names as ``torchvision.models.mobilenetv2.InvertedResidual``;
* :class:`SqueezeExcitation`: channel attention, same names as ``torchvision.ops.SqueezeExcitation``;
* :class:`ConvNeXtBlock`: 7x7 depthwise, LayerNorm over channels, 4x inverted bottleneck with
  GELU, layer scale; same names as torchvision's ``CNBlock``, so its state dict loads.

Small 28x28 networks built from them (for Fashion-MNIST) live in :mod:`cnnedu.models.efficient_small`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def grouped_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                   stride: int = 1, padding: int = 0, groups: int = 1) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding, groups=groups)`` from scratch.

    x: (N, C, H, W); weight: (C', C / groups, k, k). The channels are cut into ``groups``
    slices; slice g of the output sees only slice g of the input (one ``unfold`` and one
    matrix product per group). groups = 1 is an ordinary convolution, groups = C a depthwise one.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    cout, cin_per_group, kh, kw = weight.shape
    if groups < 1 or c % groups or cout % groups:
        raise ValueError(f"groups must divide the input ({c}) and output ({cout}) channels, "
                         f"got groups={groups}")
    if cin_per_group != c // groups:
        raise ValueError(f"weight must have C / groups = {c // groups} input channels per "
                         f"kernel, got weight of shape {tuple(weight.shape)}")
    h_out = (h + 2 * padding - kh) // stride + 1
    w_out = (w + 2 * padding - kw) // stride + 1
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)      # (N, C*kh*kw, L)
    cols = cols.view(n, groups, cin_per_group * kh * kw, -1)           # channel-major per group
    kernels = weight.view(groups, cout // groups, cin_per_group * kh * kw)
    out = torch.einsum("gok,ngkl->ngol", kernels, cols).reshape(n, cout, h_out, w_out)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     stride: int = 1, padding: int = 0) -> torch.Tensor:
    """One k x k kernel per channel: ``F.conv2d(x, weight, groups=C)``, weight (C, 1, k, k).

    Output channel c is computed from input channel c alone; nothing mixes channels.
    """
    if weight.dim() != 4 or weight.shape[1] != 1 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight must be (C, 1, k, k) with C = {x.shape[1]} (x's channels), "
                         f"got weight of shape {tuple(weight.shape)}")
    return grouped_conv2d(x, weight, bias, stride, padding, groups=x.shape[1])


def depthwise_separable(cin: int, cout: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    """A depthwise k x k conv (``groups=cin``) then a pointwise 1x1 conv: k²·cin + cin·cout
    weights instead of a dense conv's k²·cin·cout (no biases, no normalisation: just the idea)."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, kernel_size, stride, kernel_size // 2, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=False))


def conv_bn_act(cin: int, cout: int, kernel_size: int = 3, stride: int = 1, groups: int = 1,
                activation: type[nn.Module] | None = nn.ReLU6) -> nn.Sequential:
    """Conv (same padding, no bias) - BatchNorm - activation: torchvision's Conv2dNormActivation."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel_size, stride, (kernel_size - 1) // 2,
                                         groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand (x t), 3x3 depthwise, 1x1 project, no ReLU at the end.

    Narrow -> wide -> narrow (the inverse of ResNet's bottleneck); the projection is *linear*
    (Sandler et al. 2018: a ReLU in the narrow space destroys information). The input is added
    back only when it has the output's shape: stride 1 and ``inp == oup``.
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = round(inp * expand_ratio)
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:                      # torchvision leaves the 1x1 out when t = 1
            layers.append(conv_bn_act(inp, hidden, 1))
        layers += [conv_bn_act(hidden, hidden, 3, stride, groups=hidden),   # depthwise
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]  # linear
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al. 2018): average each channel to one number, squeeze them
    through a small 2-layer net, and rescale each channel of x by the result, in (0, 1) for a
    sigmoid and in [0, 1] for MobileNetV3's Hardsigmoid, which reaches both ends.

    MobileNetV3 uses ``scale_activation=nn.Hardsigmoid``, EfficientNet ``activation=nn.SiLU``.
    """

    def __init__(self, input_channels: int, squeeze_channels: int,
                 activation: type[nn.Module] = nn.ReLU,
                 scale_activation: type[nn.Module] = nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)   # a linear layer per pixel
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))   # (N, C, 1, 1)
        return x * self.scale_activation(scale)


class Permute(nn.Module):
    """``x.permute(*dims)`` as a layer (NCHW <-> NHWC inside a block)."""

    def __init__(self, dims: list[int]):
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt's block (Liu et al. 2022): 7x7 depthwise conv, LayerNorm over the channels,
    1x1 up to 4x the channels, GELU, 1x1 back, times a learned per-channel ``layer_scale``
    (starts tiny, so the block starts close to the identity), added to x.

    The 1x1 convolutions are ``nn.Linear`` on channels-last pixels, as in torchvision.
    Stochastic depth (dropping the branch at random in training) is left out.
    """

    def __init__(self, dim: int, layer_scale: float = 1e-6, expansion: int = 4):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), layer_scale))
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),     # depthwise, with bias
            Permute([0, 2, 3, 1]),                             # NCHW -> NHWC
            nn.LayerNorm(dim, eps=1e-6),                       # over the channels of each pixel
            nn.Linear(dim, expansion * dim),
            nn.GELU(),
            nn.Linear(expansion * dim, dim),
            Permute([0, 3, 1, 2]))                             # back to NCHW

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer_scale * self.block(x)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of each pixel of an (N, C, H, W) tensor (ConvNeXt's stem)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
