"""Lesson 08 (efficient convnets): a depthwise-separable conv's parameters, and MobileNetV2's
inverted residual block, equal to torchvision's given its weights."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual as TvInvertedResidual

from ..models.efficient import depthwise_separable
from .functions import Case, Exercise, Mismatch, Mistake
from .modules import module_runner
from .registry import Numeric, register


def depthwise_separable_params(cin: int, cout: int, k: int) -> int:
    """Weights of a depthwise k x k conv on cin channels followed by a 1x1 conv to cout (no bias)."""
    depthwise = k * k * cin          # one k x k kernel per input channel (groups = cin)
    pointwise = cin * cout           # a 1x1 conv mixes the channels
    return depthwise + pointwise


class MyInvertedResidual(nn.Module):
    """MobileNetV2's block, named as torchvision's: 1x1 expand - 3x3 depthwise - 1x1 linear."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = round(inp * expand_ratio)
        self.use_res_connect = stride == 1 and inp == oup     # only when shapes agree
        layers = []
        if expand_ratio != 1:                                 # 1x1 expansion, ReLU6
            layers.append(nn.Sequential(nn.Conv2d(inp, hidden, 1, bias=False),
                                        nn.BatchNorm2d(hidden), nn.ReLU6()))
        layers.append(nn.Sequential(                          # 3x3 depthwise, ReLU6
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6()))
        layers += [nn.Conv2d(hidden, oup, 1, bias=False),     # 1x1 projection: linear,
                   nn.BatchNorm2d(oup)]                       # no activation after it
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out


def _counted(cin: int, cout: int, k: int) -> int:
    return sum(p.numel() for p in depthwise_separable(cin, cout, k).parameters())


def _param_cases() -> list[Case]:
    settings = [(32, 64, 3), (96, 24, 7), (3, 16, 5), (144, 144, 3), (1, 1, 1)]
    return [Case(f"(cin, cout, k) = {s}", s) for s in settings]


def _block_cases() -> list[Case]:
    cases = []
    for settings, shape, scale, training in [((16, 16, 1, 4), (2, 16, 7, 7), 3.0, False),
                                             ((16, 16, 2, 4), (2, 16, 8, 8), 1.0, False),
                                             ((8, 16, 2, 6), (1, 8, 9, 9), 3.0, False),
                                             ((16, 8, 1, 1), (2, 16, 6, 6), 3.0, False),
                                             ((8, 12, 1, 3), (2, 8, 5, 5), 1.0, False),
                                             ((8, 8, 1, 2), (4, 8, 6, 6), 1.0, True)]:
        inp, oup, stride, t = settings
        mode = "train" if training else "eval"
        cases.append(Case(f"MyInvertedResidual(inp={inp}, oup={oup}, stride={stride}, "
                          f"expand_ratio={t}) on x of shape {shape}, {mode} mode, random "
                          "weights and running statistics",
                          (settings, scale * torch.randn(*shape), training)))
    return cases


def _keys_hint(settings, missing: list[str], unexpected: list[str], own: dict) -> str:
    if not own:
        return ("your module has no layers yet: build self.conv = nn.Sequential(...) in "
                "__init__, as torchvision does.")
    if settings[3] == 1 and unexpected:
        return ("with expand_ratio 1 torchvision leaves the expanding 1x1 conv out: conv = "
                "[depthwise unit, projection Conv2d, BatchNorm2d].")
    if settings[3] != 1 and any(k.startswith("conv.0.0") for k in missing):
        return "with expand_ratio > 1 the block starts with a 1x1 expansion unit (conv, BN, ReLU6)."
    return ("name the layers as torchvision does: self.conv = nn.Sequential(expand unit, "
            "depthwise unit, projection Conv2d, BatchNorm2d), each unit nn.Sequential(Conv2d, "
            "BatchNorm2d, ReLU6), convs without bias.")


def _load(module: nn.Module, state: dict, settings) -> None:
    own = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    theirs = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    missing, unexpected = sorted(set(theirs) - set(own)), sorted(set(own) - set(theirs))
    if missing or unexpected:
        parts = [f"torchvision's has {', '.join(missing[:4])} and yours does not"] if missing else []
        if unexpected:
            parts.append(f"yours has {', '.join(unexpected[:4])} and torchvision's does not")
        raise Mismatch("the layers differ: " + "; ".join(parts),
                       _keys_hint(settings, missing, unexpected, own))
    for key, value in theirs.items():
        if own[key].shape != value.shape:
            hint = "check each layer's channels: expand to round(inp * expand_ratio), project to oup."
            if value.dim() == 4 and own[key].dim() == 4 and own[key].shape[1] != value.shape[1]:
                hint = ("groups belong on the 3x3 depthwise conv only (groups = its channels, "
                        "one kernel per channel); the 1x1 convs are ordinary (groups = 1).")
            raise Mismatch(f"{key} has shape {tuple(own[key].shape)}, torchvision's "
                           f"{tuple(value.shape)}", hint)
    module.load_state_dict(state, strict=False)


_block_run = module_runner(
    TvInvertedResidual, "MyInvertedResidual", _load,
    not_module_hint="write MyInvertedResidual as an nn.Module class.",
    runtime_hints={"must match the size": Mismatch(
        "adding x to the block's output failed: they have different shapes",
        "add x only when stride is 1 and inp == oup; otherwise the output has another size or "
        "other channels, and the block returns it alone.")})


class _ReluAfterProjection(MyInvertedResidual):
    def forward(self, x):
        out = torch.clamp(self.conv(x), 0, 6)
        return x + out if self.use_res_connect else out


class _NoResidual(MyInvertedResidual):
    def forward(self, x):
        return self.conv(x)


class _PlainRelu(MyInvertedResidual):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__(inp, oup, stride, expand_ratio)
        for unit in self.conv:
            if isinstance(unit, nn.Sequential):
                unit[2] = nn.ReLU()


def _param_variant(depthwise, pointwise):
    return lambda cin, cout, k: depthwise(cin, cout, k) + pointwise(cin, cout, k)


register(
    Exercise(
        id="08.1", name="depthwise_separable_params", reference=depthwise_separable_params,
        truth=_counted, against="count_params(depthwise_separable(cin, cout, k))",
        cases=_param_cases,
        explanation="The depthwise conv has groups = cin: one k x k kernel per input channel, "
                    "k * k * cin weights. The 1x1 pointwise conv mixes the channels: cin * cout. "
                    "A dense k x k conv would need k * k * cin * cout.",
        mistakes=[
            Mistake("that is a dense k x k convolution's count (k * k * cin * cout); the "
                    "separable one splits it into a depthwise and a 1x1 conv.",
                    lambda cin, cout, k: k * k * cin * cout),
            Mistake("the depthwise conv has groups = cin: each of its kernels sees one channel, "
                    "so it has k * k * cin weights, not k * k * cin * cin.",
                    _param_variant(lambda i, o, k: k * k * i * i, lambda i, o, k: i * o)),
            Mistake("add the 1x1 pointwise convolution, which mixes the channels: cin * cout.",
                    lambda cin, cout, k: k * k * cin),
            Mistake("a k x k kernel has k * k weights (k squared).",
                    _param_variant(lambda i, o, k: k * i, lambda i, o, k: i * o)),
            Mistake("the depthwise conv works on the cin input channels, before the 1x1 conv "
                    "changes their number.",
                    _param_variant(lambda i, o, k: k * k * o, lambda i, o, k: i * o)),
        ],
        more="build depthwise_separable(cin, cout, k) and print it: count each conv's weights.",
    ),
    Exercise(
        id="08.2", name="MyInvertedResidual", reference=MyInvertedResidual,
        truth=TvInvertedResidual, against="torchvision's InvertedResidual with the same weights",
        cases=_block_cases, run=_block_run, atol=1e-4,
        explanation="Expand with a 1x1 conv (t x the channels; left out when t = 1), filter "
                    "with a 3x3 depthwise conv (groups = hidden channels, the block's stride), "
                    "each followed by BN and ReLU6; project with a 1x1 conv and BN and no "
                    "activation (the linear bottleneck). Add x only when stride is 1 and "
                    "inp == oup.",
        mistakes=[
            Mistake("no activation after the projection: the bottleneck is linear (a ReLU in "
                    "the narrow space throws information away).", _ReluAfterProjection),
            Mistake("when stride is 1 and inp == oup, the block adds its input: x + conv(x).",
                    _NoResidual),
            Mistake("MobileNetV2 uses ReLU6, min(max(x, 0), 6), not ReLU.", _PlainRelu),
        ],
        more="print torchvision.models.mobilenet_v2().features[2] and copy its structure.",
    ),
    Numeric("08.3", "answer_1 = 4728",
            "fc1 is a 1x1 conv from 96 to 24 channels with bias: 96 * 24 + 24 = 2,328; fc2 from "
            "24 back to 96: 24 * 96 + 96 = 2,400; 4,728 in all."),
)
