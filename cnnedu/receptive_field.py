"""Receptive fields, traced through any forward pass.

Every tensor that flows through the forward pass carries (size, jump), where *size* is how many
input pixels one of its units sees along a side and *jump* is the distance in input pixels
between neighbouring units. A convolution or pooling with kernel k, stride s and dilation d maps
(size, jump) to (size + d(k-1)·jump, jump·s); element-wise operations keep it; operations that
merge tensors (a residual ``+``, a ``cat``) take the largest field of their inputs; global
pooling, ``flatten`` and linear layers see the whole input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

GLOBAL = -1  # receptive field size meaning "the whole input"


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of one unit: ``size`` input pixels per side (GLOBAL: all), ``jump``."""

    size: int
    jump: int

    def __str__(self) -> str:
        return "global" if self.size == GLOBAL else f"{self.size} (jump {self.jump})"


def _arg(args, kwargs, index: int, name: str, default):
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _first(value) -> int | None:
    """The first entry of an int or a per-dimension sequence; None for an empty sequence, which
    is how PyTorch's pooling functions pass "stride defaults to the kernel size" (``stride=[]``)."""
    if isinstance(value, (tuple, list)):
        return int(value[0]) if value else None
    return int(value)


_WINDOWED = {  # function name -> positions of (kernel, stride, dilation); kernel None: from weight
    "conv2d": (None, 3, 5), "max_pool2d": (1, 2, 4), "max_pool2d_with_indices": (1, 2, 4),
    "_max_pool2d": (1, 2, 4), "avg_pool2d": (1, 2, None),
}
_GLOBAL = {"adaptive_avg_pool2d", "adaptive_max_pool2d", "linear", "mean", "amax"}


class FieldTracker(TorchFunctionMode):
    """Propagate :class:`ReceptiveField` through every torch function call of a forward pass."""

    def __init__(self, x: torch.Tensor):
        super().__init__()
        self.fields: dict[int, ReceptiveField] = {id(x): ReceptiveField(1, 1)}
        self._alive = [x]          # keep tensors alive so ids stay unique during the pass

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        leaves, _ = tree_flatten((args, kwargs))
        known = [self.fields[id(t)] for t in leaves
                 if isinstance(t, torch.Tensor) and id(t) in self.fields]
        if not known:
            return out
        field = max(known, key=lambda f: (f.size == GLOBAL, f.size))
        name = getattr(func, "__name__", "")
        if field.size != GLOBAL and name in _WINDOWED:
            field = _windowed_field(field, name, args, kwargs)
        elif name in _GLOBAL:
            field = ReceptiveField(GLOBAL, field.jump)
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                self.fields[id(tensor)] = field
                self._alive.append(tensor)
        return out


def _windowed_field(field: ReceptiveField, name: str, args, kwargs) -> ReceptiveField:
    """Field after a convolution or pooling (along the height; kernels here are square)."""
    k_pos, s_pos, d_pos = _WINDOWED[name]
    stride = _first(_arg(args, kwargs, s_pos, "stride", None) or 0) or None
    if k_pos is None:                     # convolution: kernel from the weight, stride 1 default
        kernel = _arg(args, kwargs, 1, "weight", None).shape[-2]
        stride = stride or 1
    else:                                 # pooling: stride None or [] means "= kernel"
        kernel = _first(_arg(args, kwargs, k_pos, "kernel_size", 1))
        stride = stride or kernel
    dilation = 1 if d_pos is None else _first(_arg(args, kwargs, d_pos, "dilation", 1) or 1)
    return ReceptiveField(field.size + dilation * (kernel - 1) * field.jump, field.jump * stride)
