"""Lesson 05 (VGG, Inception, DenseNet): an Inception module's parameters, and a DenseNet layer."""

from __future__ import annotations

import torch
from torch import nn

from ..models.small import DenseLayer, InceptionModule
from .functions import Case, Exercise, Mistake
from .lesson04 import load_weights, randomise
from .registry import Numeric, register


def inception_params(cin: int, b1: int, r3: int, b3: int, r5: int, b5: int, bp: int) -> int:
    """Parameters of ``cnnedu.models.small.InceptionModule``: four conv-BN-ReLU branches."""
    def conv_bn(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k * k + 2 * c_out     # conv weights (no bias) + BN scale and shift
    return (conv_bn(cin, b1, 1)                              # 1x1 branch
            + conv_bn(cin, r3, 1) + conv_bn(r3, b3, 3)       # 1x1 reduce, then 3x3
            + conv_bn(cin, r5, 1) + conv_bn(r5, b5, 5)       # 1x1 reduce, then 5x5
            + conv_bn(cin, bp, 1))                           # 3x3 max pool (no weights), 1x1


class MyDenseLayer(nn.Module):
    """BN - ReLU - 3x3 conv making ``growth`` new channels, concatenated after the input."""

    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv(self.relu(self.norm(x)))
        return torch.cat([x, new], dim=1)            # old channels first, then the new ones


def _counted(*settings: int) -> int:
    return sum(p.numel() for p in InceptionModule(*settings).parameters())


def _param_cases() -> list[Case]:
    named = {"SmallInception's first module": (24, 16, 16, 24, 4, 8, 8),
             "SmallInception's last module": (112, 48, 32, 64, 12, 24, 24),
             "GoogLeNet's inception (3a) sizes": (192, 64, 96, 128, 16, 32, 32),
             "a tiny module": (3, 1, 2, 1, 2, 1, 1)}
    labels = "cin, b1, r3, b3, r5, b5, bp"
    return [Case(f"{name}: ({labels}) = {s}", s) for name, s in named.items()]


def _variant(bn=True, reduce=True, pool_conv=True, three_from_cin=False, bias=False):
    def count(cin, b1, r3, b3, r5, b5, bp):
        def conv(c_in, c_out, k):
            return c_in * c_out * k * k + (2 * c_out if bn else 0) + (c_out if bias else 0)
        total = conv(cin, b1, 1)
        total += (conv(cin, r3, 1) if reduce else 0) + conv(cin if three_from_cin or not reduce
                                                            else r3, b3, 3)
        total += (conv(cin, r5, 1) if reduce else 0) + conv(cin if three_from_cin or not reduce
                                                            else r5, b5, 5)
        return total + (conv(cin, bp, 1) if pool_conv else 0)
    return count


def _dense_run(candidate, case: Case):
    (cin, growth), x, training = case.args
    reference = randomise(DenseLayer(cin, growth))
    module = candidate(cin, growth)
    load_weights(module, reference.state_dict(), _dense_keys_hint)
    module.train(training)
    with torch.no_grad():
        return module(x.clone())


def _dense_keys_hint(missing, unexpected) -> str:
    return ("name the layers norm (BatchNorm2d over the input's channels), relu and conv "
            "(3x3, input channels -> growth, bias=False), like cnnedu.models.small.DenseLayer.")


def _dense_cases() -> list[Case]:
    cases = []
    for (cin, growth), shape, training in [((8, 4), (2, 8, 6, 6), False),
                                           ((3, 2), (1, 3, 5, 5), False),
                                           ((16, 12), (4, 16, 4, 4), True)]:
        mode = "train" if training else "eval"
        cases.append(Case(f"MyDenseLayer({cin}, growth={growth}) on x of shape {shape}, {mode} "
                          "mode, random weights", ((cin, growth), torch.randn(*shape), training)))
    return cases


class _NewFirst(MyDenseLayer):
    def forward(self, x):
        return torch.cat([self.conv(self.relu(self.norm(x))), x], dim=1)


class _NoRelu(MyDenseLayer):
    def forward(self, x):
        return torch.cat([x, self.conv(self.norm(x))], dim=1)


class _ReluAfterConv(MyDenseLayer):
    def forward(self, x):
        return torch.cat([x, self.relu(self.conv(self.norm(x)))], dim=1)


def _shape_is(channels):
    def detect(case, expected, got):
        (cin, growth), x, _ = case.args
        return isinstance(got, torch.Tensor) and got.dim() == 4 and \
            tuple(got.shape) == (x.shape[0], channels(cin, growth), *x.shape[2:])
    return detect


register(
    Exercise(
        id="05.1", name="inception_params", reference=inception_params, truth=_counted,
        against="count_params(InceptionModule(...))", cases=_param_cases,
        explanation="Each branch is built from conv_bn_relu units: a k x k convolution from "
                    "c_in to c_out channels has c_in * c_out * k * k weights (no bias), its "
                    "BatchNorm 2 * c_out. The 3x3 and 5x5 convs see the reduced r3 and r5 "
                    "channels; the max pool has no parameters, its 1x1 conv sees all cin.",
        mistakes=[
            Mistake("each conv_bn_relu unit also has a BatchNorm: 2 parameters (scale and "
                    "shift) per output channel.", _variant(bn=False)),
            Mistake("the 3x3 and 5x5 branches start with a 1x1 'reduce' convolution (r3, r5).",
                    _variant(reduce=False)),
            Mistake("the pool branch has a 1x1 convolution after its max pooling.",
                    _variant(pool_conv=False)),
            Mistake("after the 1x1 reduction the 3x3 (5x5) conv sees only r3 (r5) channels, not "
                    "cin: that is the point of the bottleneck.", _variant(three_from_cin=True)),
            Mistake("these convolutions have no bias (BatchNorm follows each).", _variant(bias=True)),
            Mistake("you counted one bias per output channel and no BatchNorm, as in the 2014 "
                    "paper's units; torchvision's conv_bn_relu has a bias-free convolution and a "
                    "BatchNorm: 2 parameters (scale and shift) per output channel.",
                    _variant(bn=False, bias=True)),
        ],
        more="print InceptionModule(24, 16, 16, 24, 4, 8, 8) and count one branch by hand.",
    ),
    Exercise(
        id="05.2", name="MyDenseLayer", reference=MyDenseLayer, truth=DenseLayer,
        against="cnnedu.models.small.DenseLayer with the same weights", cases=_dense_cases,
        run=_dense_run,
        explanation="A DenseNet layer computes growth new channels with BN - ReLU - 3x3 conv "
                    "(pre-activation order) and returns them concatenated after its input "
                    "along the channel axis, so every later layer sees every earlier one.",
        mistakes=[
            Mistake("keep the input's channels first: torch.cat([x, new], dim=1).", _NewFirst),
            Mistake("apply ReLU between the BatchNorm and the convolution (BN - ReLU - conv).",
                    _NoRelu),
            Mistake("the ReLU comes before the convolution, not after it (BN - ReLU - conv).",
                    _ReluAfterConv),
            Mistake("a dense layer returns its input *and* the new channels: concatenate them.",
                    detect=_shape_is(lambda cin, growth: growth)),
            Mistake("concatenate along the channel axis, dim=1.",
                    detect=lambda case, expected, got: isinstance(got, torch.Tensor)
                    and got.shape[0] == 2 * case.args[1].shape[0]),
        ],
        more="x has shape (N, cin, H, W); your output must have shape (N, cin + growth, H, W).",
    ),
    Numeric("05.3", "answer_1 = 110592",
            "Each 3x3 convolution from 64 to 64 channels has 3 * 3 * 64 * 64 = 36,864 weights; "
            "three of them 110,592, against 49 * 64 * 64 = 200,704 for one 7x7."),
    Numeric("05.4", "answer_2 = 256",
            "Every layer adds k = 32 channels to what it received: 64 + 6 * 32 = 256."),
)
