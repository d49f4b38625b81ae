"""The kernels the kernel explorers offer (presets, a learned network's first-layer filters) and
the small helpers both explorers use to show and resize them."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def weight_text(value: float) -> str:
    """A weight as shown in its box: 3 significant digits, so ``-0.0471`` fits and reads
    (tiny weights as ``-1.2e-04``: at most 8 characters for |value| < 1000)."""
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.3g}"


def _gauss(n: int) -> torch.Tensor:
    row = torch.tensor([math.comb(n - 1, i) for i in range(n)], dtype=torch.float32)
    return torch.outer(row, row) / row.sum() ** 2


PRESETS: dict[str, torch.Tensor] = {
    "identity": torch.tensor([[0., 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box blur": torch.full((3, 3), 1 / 9),
    "Gaussian 3×3": _gauss(3),
    "Gaussian 5×5": _gauss(5),
    "sharpen": torch.tensor([[0., -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "Sobel x": torch.tensor([[-1., 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y": torch.tensor([[-1., -2, -1], [0, 0, 0], [1, 2, 1]]),
    "Laplacian": torch.tensor([[0., 1, 0], [1, -4, 1], [0, 1, 0]]),
}
CUSTOM = "custom (edited)"


def _resize_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Centre ``kernel`` in a ``size`` x ``size`` grid: zero-pad when growing, crop when shrinking."""
    current = kernel.shape[-1]
    if current == size:
        return kernel.clone()
    if current < size:
        pad = (size - current) // 2
        return F.pad(kernel, (pad, pad, pad, pad))
    cut = (current - size) // 2
    return kernel[cut:cut + size, cut:cut + size].clone()


def first_layer_kernels(model: torch.nn.Module, count: int = 8) -> dict[str, torch.Tensor]:
    """The first ``count`` filters of a model's first Conv2d (input channel 0), by name: (k, k)
    float32 CPU tensors, the form ``KernelExplorer(kernels=...)`` takes."""
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    weight = conv.weight.detach().float().cpu()
    return {f"trained filter {i}": weight[i, 0] for i in range(min(count, len(weight)))}
