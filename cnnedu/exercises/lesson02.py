"""Lesson 02 (AlexNet): a convolution as unfold + matrix multiply, and the receptive field."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .functions import Case, Exercise, Mistake
from .registry import Numeric, register


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: int = 1, padding: int = 0) -> torch.Tensor:
    """``F.conv2d`` for square kernels: every window as a column, then one matrix multiply."""
    n, _, h, w = x.shape
    c_out, _, k, _ = weight.shape
    columns = F.unfold(x, k, padding=padding, stride=stride)      # (N, C_in*k*k, windows)
    out = weight.reshape(c_out, -1) @ columns                      # (N, C_out, windows)
    if bias is not None:
        out = out + bias[:, None]
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (w + 2 * padding - k) // stride + 1
    return out.reshape(n, c_out, h_out, w_out)


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Pixels per side one output unit sees through ``layers``, a list of (kernel_size, stride)."""
    field, jump = 1, 1                  # one unit sees 1 pixel; neighbours are 1 pixel apart
    for kernel_size, stride in layers:
        field += (kernel_size - 1) * jump   # k-1 more neighbours, each `jump` input pixels away
        jump *= stride                      # this layer's stride spreads the next layer's taps
    return field


def _traced_receptive_field(layers: list[tuple[int, int]]) -> int:
    """The truth, measured: which input pixels get gradient from the first output unit."""
    x = torch.zeros(1, 1, 2048, requires_grad=True)
    out = x
    for kernel_size, stride in layers:
        out = F.conv1d(out, torch.ones(1, 1, kernel_size), stride=stride)
    out[0, 0, 0].backward()
    return int((x.grad != 0).sum())


def _conv_cases() -> list[Case]:
    def case(x_shape, w_shape, stride, padding, with_bias=True):
        x, weight = torch.randn(*x_shape), torch.randn(*w_shape)
        bias = torch.randn(w_shape[0]) if with_bias else None
        label = (f"x of shape {x_shape}, weight of shape {w_shape}, "
                 f"bias={'yes' if with_bias else 'None'}, stride={stride}, padding={padding}")
        return Case(label, (x, weight, bias, stride, padding))

    return [case((1, 1, 5, 5), (1, 1, 3, 3), 1, 0),
            case((2, 3, 8, 8), (4, 3, 3, 3), 1, 1),
            case((1, 3, 7, 9), (2, 3, 5, 5), 2, 2),
            case((2, 2, 6, 6), (3, 2, 1, 1), 1, 0),
            case((1, 2, 6, 6), (5, 2, 3, 3), 1, 1, with_bias=False),
            case((1, 1, 8, 6), (2, 1, 2, 2), 2, 0)]


def _field_cases() -> list[Case]:
    stacks = {"two 3x3 convs": [(3, 1)] * 2,
              "three 3x3 convs": [(3, 1)] * 3,
              "one 5x5 conv": [(5, 1)],
              "3x3 conv, 2x2/2 pool, 3x3 conv": [(3, 1), (2, 2), (3, 1)],
              "ResNet stem: 7x7/2 conv, 3x3/2 pool, two 3x3 convs": [(7, 2), (3, 2), (3, 1), (3, 1)],
              "three 3x3/2 convs": [(3, 2)] * 3,
              "AlexNet's 8 conv and pool layers": [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1),
                                                  (3, 1), (3, 1), (3, 2)]}
    return [Case(f"{name}: layers={layers}", (layers,)) for name, layers in stacks.items()]


def _sum_of_kernels(layers):
    return 1 + sum(k - 1 for k, _ in layers)


def _own_stride_counted(layers):
    field, jump = 1, 1
    for k, s in layers:
        jump *= s
        field += (k - 1) * jump
    return field


register(
    Numeric("02.3", "answer_1 = 13",
            "The convolution keeps 28 (padding 2 = (5-1)/2 makes it 'same'); the pooling gives "
            "floor((28 - 3) / 2) + 1 = 12 + 1 = 13."),
    Exercise(
        id="02.1", name="conv2d", reference=conv2d, truth=F.conv2d, against="F.conv2d",
        cases=_conv_cases,
        explanation="F.unfold turns every k x k window of all C_in channels into one column "
                    "(C_in*k*k numbers); each output channel's kernel, flattened the same way, "
                    "is one row of a matrix, so the whole convolution is one matrix multiply. "
                    "Add the bias per output channel and fold the windows back into H_out x W_out.",
        mistakes=[
            Mistake("PyTorch's convolution does not flip the kernel (it is a cross-correlation): "
                    "use the weight as it is.",
                    lambda x, w, b=None, s=1, p=0: F.conv2d(x, w.flip(-1, -2), b, s, p)),
            Mistake("each output channel has a bias: add bias[c] to every value of channel c.",
                    lambda x, w, b=None, s=1, p=0: F.conv2d(x, w, None, s, p)),
            Mistake("unfold orders each column channel first, then kernel row, then kernel "
                    "column: flatten the weight in the same order, weight.reshape(C_out, -1).",
                    lambda x, w, b=None, s=1, p=0: F.conv2d(
                        x, w.permute(0, 2, 3, 1).reshape(w.shape), b, s, p)),
            Mistake("pass padding to F.unfold (and count it in the output size).",
                    lambda x, w, b=None, s=1, p=0: F.conv2d(x, w, b, s, 0)),
            Mistake("pass stride to F.unfold (and divide by it in the output size).",
                    lambda x, w, b=None, s=1, p=0: F.conv2d(x, w, b, 1, p)),
        ],
        more="print the shapes: unfold gives (N, C_in*k*k, L); the flattened weight is "
             "(C_out, C_in*k*k); their product is (N, C_out, L) with L = H_out * W_out.",
    ),
    Exercise(
        id="02.2", name="receptive_field", reference=receptive_field,
        truth=_traced_receptive_field, against="the field traced with autograd", cases=_field_cases,
        explanation="Walk the layers from the input. One unit sees 1 pixel; a layer with kernel k "
                    "adds k-1 neighbours, and neighbours at that depth are `jump` input pixels "
                    "apart, where jump is the product of the strides of the layers before it.",
        mistakes=[
            Mistake("after a layer with stride s, neighbouring units are s input pixels apart: "
                    "multiply each later layer's (k - 1) by the product of the strides before it.",
                    _sum_of_kernels),
            Mistake("start from 1 (one unit sees one pixel) and add k - 1 per layer: two 3x3 "
                    "convs see 5 pixels, not 6.",
                    lambda layers: sum(k for k, _ in layers)),
            Mistake("a layer's own stride does not widen its own window: only the strides of the "
                    "layers *before* it count.",
                    _own_stride_counted),
            Mistake("receptive fields grow by adding, not multiplying: each layer adds "
                    "(k - 1) * jump pixels.",
                    lambda layers: math.prod(k for k, _ in layers)),
        ],
        more="draw two 3x3 convs as two rows of dots: the top unit sees 3 units, which see 5 "
             "pixels. Now make the first layer stride 2 and draw again.",
    ),
    Numeric("02.4", "answer_2 = 18496",
            "Each of the 64 output channels has one 32 x 3 x 3 kernel (288 weights) and one "
            "bias: 64 * (288 + 1) = 18,496."),
)
