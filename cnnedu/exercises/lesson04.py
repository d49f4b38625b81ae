"""Lesson 04 (ResNet): the shortcut and the basic block, equal to torchvision's given its weights."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet

from .functions import Case, Exercise, Mismatch, Mistake
from .modules import module_runner, randomise  # noqa: F401  (lessons 05, 08 import it here)
from .registry import Numeric, register


def shortcut(inplanes: int, planes: int, stride: int = 1) -> nn.Module:
    """The shortcut of a basic block: the identity, or a projection where shapes change."""
    if stride == 1 and inplanes == planes:
        return nn.Identity()                      # x already has F(x)'s shape
    return nn.Sequential(nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False),
                         nn.BatchNorm2d(planes))


class MyBasicBlock(nn.Module):
    """``relu(F(x) + shortcut(x))`` with F = conv3x3-BN-ReLU-conv3x3-BN, named as torchvision's."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.downsample = shortcut(inplanes, planes, stride)   # exercise 04.1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))     # add first, then the last ReLU


def _torchvision_shortcut(inplanes: int, planes: int, stride: int = 1) -> nn.Module:
    if stride == 1 and inplanes == planes:
        return nn.Identity()
    return nn.Sequential(tv_resnet.conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes))


def _torchvision_block(inplanes: int, planes: int, stride: int = 1) -> nn.Module:
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = _torchvision_shortcut(inplanes, planes, stride)
    return tv_resnet.BasicBlock(inplanes, planes, stride, downsample)


def load_weights(module: nn.Module, state: dict, keys_hint) -> None:
    """Load ``state`` into the learner's module, or raise Mismatch saying what differs."""
    own = module.state_dict()
    missing = [k for k in state if k not in own and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        parts = []
        if missing:
            more = " ..." if len(missing) > 4 else ""
            parts.append(f"torchvision's has {', '.join(missing[:4])}{more} and yours does not")
        if unexpected:
            parts.append(f"yours has {', '.join(unexpected[:4])}"
                         f"{' ...' if len(unexpected) > 4 else ''} and torchvision's does not")
        raise Mismatch("the layers differ: " + "; ".join(parts), keys_hint(missing, unexpected))
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise Mismatch(f"{key} has shape {tuple(own[key].shape)}, torchvision's "
                           f"{tuple(value.shape)}",
                           "check each layer's channels and kernel size (3x3 in the main path, "
                           "1x1 in the shortcut).")
    module.load_state_dict(state, strict=False)


def _loader(keys_hint):
    """``load_weights`` with ``keys_hint``, in the form :func:`module_runner` calls."""
    return lambda module, state, settings: load_weights(module, state, keys_hint)


def _shortcut_keys_hint(missing, unexpected) -> str:
    if missing and all(k.startswith("1.") for k in missing):
        return "torchvision's shortcut is a 1x1 conv followed by a BatchNorm2d."
    if missing:
        return ("when the stride or the number of channels changes, x and F(x) have different "
                "shapes: project x with nn.Sequential(1x1 conv with that stride, BatchNorm2d).")
    if any(k.endswith("bias") and k.startswith("0.") for k in unexpected):
        return "a convolution followed by BatchNorm needs no bias (bias=False)."
    return "when stride is 1 and the channels stay the same, the shortcut is nn.Identity()."


def _block_keys_hint(missing, unexpected) -> str:
    if any(k.startswith("downsample") for k in missing):
        return ("this block changes the stride or the channels, so x must be projected: "
                "self.downsample = the shortcut of exercise 04.1.")
    if any(k.startswith("downsample") for k in unexpected):
        return "this block keeps the shapes: its shortcut is the identity, with no layers."
    if any(k.endswith(".bias") and k.startswith("conv") for k in unexpected):
        return "a convolution followed by BatchNorm needs no bias (bias=False)."
    return "name the layers as torchvision does: conv1, bn1, conv2, bn2, downsample."


def _cases(what: str, settings_list) -> list[Case]:
    cases = []
    for settings, shape, training in settings_list:
        mode = "train" if training else "eval"
        inplanes, planes, stride = settings
        label = (f"{what}({inplanes}, {planes}, stride={stride}) on x of shape {shape}, {mode} "
                 "mode, random weights and running statistics")
        cases.append(Case(label, (settings, torch.randn(*shape), training)))
    return cases


def _shortcut_cases() -> list[Case]:
    return _cases("shortcut", [((8, 8, 1), (2, 8, 6, 6), False),
                               ((8, 16, 1), (2, 8, 6, 6), False),
                               ((8, 8, 2), (1, 8, 7, 7), False),
                               ((8, 16, 2), (2, 8, 8, 8), False)])


def _block_cases() -> list[Case]:
    return _cases("MyBasicBlock", [((8, 8, 1), (2, 8, 6, 6), False),
                                   ((8, 16, 2), (2, 8, 8, 8), False),
                                   ((16, 16, 2), (1, 16, 7, 7), False),
                                   ((8, 16, 1), (2, 8, 5, 5), False),
                                   ((8, 16, 2), (4, 8, 6, 6), True)])


class _ReluBeforeAdd(MyBasicBlock):
    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out))) + self.downsample(x)


class _NoFinalRelu(MyBasicBlock):
    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + self.downsample(x)


class _NoShortcut(MyBasicBlock):
    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


class _StrideOnConv2(MyBasicBlock):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__(inplanes, planes, stride)
        self.conv1.stride, self.conv2.stride = (1, 1), (stride, stride)


register(
    Exercise(
        id="04.1", name="shortcut", reference=shortcut, truth=_torchvision_shortcut,
        against="torchvision's downsample shortcut", cases=_shortcut_cases,
        run=module_runner(_torchvision_shortcut, "shortcut", _loader(_shortcut_keys_hint)),
        explanation="F(x) + x needs F(x) and x of the same shape. When the block keeps stride 1 "
                    "and the channel count, x is used as it is. Otherwise torchvision projects x "
                    "with a 1x1 convolution (no bias) with the block's stride, then BatchNorm.",
        mistakes=[
            Mistake("the shortcut's 1x1 conv takes the block's stride, so x shrinks like F(x).",
                    lambda i, p, s=1: nn.Sequential(tv_resnet.conv1x1(i, p, 1), nn.BatchNorm2d(p))
                    if (i != p or s != 1) else nn.Identity()),
        ],
        more="build the block on paper: which shapes do x and F(x) have for each case?",
    ),
    Exercise(
        id="04.2", name="MyBasicBlock", reference=MyBasicBlock, truth=_torchvision_block,
        against="torchvision's BasicBlock with the same weights", cases=_block_cases,
        run=module_runner(_torchvision_block, "MyBasicBlock", _loader(_block_keys_hint)),
        atol=1e-4,
        explanation="conv3x3 (with the block's stride) - BN - ReLU - conv3x3 - BN gives F(x); "
                    "the shortcut of exercise 04.1 gives x in F(x)'s shape; the block returns "
                    "relu(F(x) + shortcut(x)). Same layer names as torchvision, so its state "
                    "dict loads.",
        mistakes=[
            Mistake("add the shortcut before the last ReLU: relu(F(x) + shortcut(x)), so the "
                    "block can output negative changes to x before the ReLU.", _ReluBeforeAdd),
            Mistake("the block ends with a ReLU, applied after the addition.", _NoFinalRelu),
            Mistake("add the shortcut: the block returns relu(F(x) + shortcut(x)).", _NoShortcut),
            Mistake("the stride belongs on the first 3x3 conv (and the shortcut), not the second.",
                    _StrideOnConv2),
        ],
        more="compare your forward with the picture: two convs, each followed by BN, one ReLU "
             "between them, the addition, one ReLU at the end.",
    ),
    Numeric("04.3", "answer_1 = 73984",
            "Each 3x3 convolution has 64 x 64 x 3 x 3 = 36,864 weights (no bias), each "
            "BatchNorm 2 x 64 = 128 parameters: 2 * 36,864 + 2 * 128 = 73,984."),
    Numeric("04.4", 'answer_2 = "bcd"',
            "The identity works only when x and F(x) have the same shape: b changes the "
            "channels and halves the size, c halves the size, d changes the channels. Only a "
            "keeps both."),
)
