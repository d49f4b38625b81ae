"""Lesson 01 (pooling): the output-size formula and max pooling, written from scratch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .functions import Case, Exercise, Mistake
from .registry import Numeric, register


def count_windows(size: int, kernel_size: int, stride: int, padding: int = 0,
                dilation: int = 1) -> int:
    """How many windows fit along one dimension of length ``size``."""
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1   # room left after one window
    return span // stride + 1                                      # one window + one per step


def max_pool2d(x: torch.Tensor, kernel_size: int, stride: int, padding: int = 0) -> torch.Tensor:
    """Max pooling of ``x`` (N, C, H, W) with square windows, from ``unfold``."""
    padded = F.pad(x, (padding, padding, padding, padding), value=float("-inf"))
    windows = padded.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride)
    return windows.amax(dim=(-2, -1))                              # (N, C, H_out, W_out)


def _torch_output_size(size, kernel_size, stride, padding=0, dilation=1) -> int:
    probe = torch.zeros(1, 1, 1, size)
    return F.max_pool2d(probe, (1, kernel_size), (1, stride), (0, padding), (1, dilation)).shape[-1]


def _size_cases() -> list[Case]:
    settings = [(112, 3, 2, 1, 1), (28, 5, 1, 2, 1), (28, 3, 2, 0, 1), (7, 2, 2, 0, 1),
                (10, 3, 3, 1, 1), (15, 3, 1, 0, 2), (224, 7, 2, 3, 1), (9, 4, 3, 2, 1),
                (16, 3, 2, 1, 2)]
    return [Case(f"size={n}, kernel_size={k}, stride={s}, padding={p}, dilation={d}",
                 (n, k, s, p, d)) for n, k, s, p, d in settings]


def _pool_cases() -> list[Case]:
    def case(shape, k, s, p, x):
        return Case(f"x of shape {tuple(shape)}, kernel_size={k}, stride={s}, padding={p}",
                    (x, k, s, p))

    ties = torch.randint(0, 3, (2, 2, 6, 6)).float()
    negative = -1 - torch.rand(1, 2, 7, 7)
    return [
        case((1, 1, 4, 4), 2, 2, 0, torch.arange(16.0).reshape(1, 1, 4, 4)),
        case((2, 3, 8, 8), 2, 2, 0, torch.randn(2, 3, 8, 8)),
        case((2, 2, 6, 6), 2, 2, 0, ties),
        case((1, 2, 7, 7), 3, 2, 1, negative),
        case((2, 1, 6, 9), 3, 1, 1, torch.randn(2, 1, 6, 9)),
        case((1, 1, 5, 5), 3, 3, 0, torch.randn(1, 1, 5, 5)),
        case((1, 4, 10, 10), 2, 1, 0, torch.randn(1, 4, 10, 10)),
    ]


register(
    Numeric("01.1", "answer_1 = 56",
            "The formula of section 2 with in_size 112, kernel 3, stride 2, padding 1: "
            "floor((112 + 2*1 - 1*(3-1) - 1) / 2) + 1 = floor(111 / 2) + 1 = 55 + 1 = 56."),
    Exercise(
        id="01.2", name="count_windows", reference=count_windows, truth=_torch_output_size,
        against="the output length of F.max_pool2d", cases=_size_cases,
        explanation="After placing the first window there are size + 2*padding - "
                    "(dilation*(kernel_size-1) + 1) pixels left; each step of `stride` pixels "
                    "fits one more window, so the count is that room // stride, plus the first.",
        mistakes=[
            Mistake("a window also fits at the very first position: count the steps, then add "
                    "1 for the first window.",
                    lambda n, k, s, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) // s),
            Mistake("padding is added on both sides of the input.",
                    lambda n, k, s, p=0, d=1: (n + p - d * (k - 1) - 1) // s + 1),
            Mistake("with dilation the window spreads out: it covers dilation*(kernel_size-1)+1 "
                    "pixels.",
                    lambda n, k, s, p=0, d=1: (n + 2 * p - k) // s + 1),
            Mistake("a window that sticks out past the (padded) input is dropped: round down.",
                    lambda n, k, s, p=0, d=1: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1),
            Mistake("return a whole number: use floor division `//`.",
                    detect=lambda case, expected, got: isinstance(got, float)
                    and got != int(got)),
        ],
        more="check your function by hand on the first case: 112 pixels, window 3, step 2.",
    ),
    Exercise(
        id="01.3", name="max_pool2d", reference=max_pool2d, truth=F.max_pool2d,
        against="F.max_pool2d", cases=_pool_cases,
        explanation="Pad with -inf (so padding never wins a max), cut every k x k window with "
                    "unfold along height then width (step = stride), and take the max over the "
                    "two window axes.",
        mistakes=[
            Mistake("where every value of a window is negative, your padding won: pad with "
                    "float('-inf'), so padding can never be the maximum.",
                    lambda x, k, s, p=0: F.max_pool2d(F.pad(x, (p,) * 4, value=0.0), k, s)),
            Mistake("that is average pooling: max pooling keeps the largest value of each window.",
                    lambda x, k, s, p=0: F.avg_pool2d(x, k, s, p)),
            Mistake("the windows must move by `stride` (unfold's step), not by 1.",
                    lambda x, k, s, p=0: F.max_pool2d(x, k, 1, p)),
            Mistake("the input must be padded on all four sides before cutting windows.",
                    lambda x, k, s, p=0: F.max_pool2d(x, k, s, 0)),
            Mistake("a last window that does not fit entirely is dropped (round down), as in "
                    "output_size.",
                    lambda x, k, s, p=0: F.max_pool2d(x, k, s, p, ceil_mode=True)),
            Mistake("after unfolding height and width, reduce over both window axes "
                    "(the last two), e.g. with amax(dim=(-2, -1)).",
                    detect=lambda case, expected, got: isinstance(got, torch.Tensor)
                    and got.dim() > 4),
        ],
        more="print the shape after each unfold: (N, C, H_out, W_out, k, k) is what you want.",
    ),
    Numeric("01.4", "answer_max = [[5, 8], [9, 7]]\nanswer_avg = [[3.25, 2.75], [3.0, 5.25]]",
            "The 4x4 tensor splits into four 2x2 quarters (stride 2, no overlap). Max keeps each "
            "quarter's largest value; average adds its four values and divides by 4, e.g. "
            "(1+5+3+4)/4 = 3.25 for the top-left quarter."),
)
