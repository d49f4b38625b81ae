"""Training precision by name: ``"fp32"`` (plain) or ``"bf16"`` (``torch.autocast`` with bfloat16).

Under ``"bf16"`` the forward pass and the loss run inside ``torch.autocast(device_type,
dtype=torch.bfloat16)``: convolutions and matrix products compute in bfloat16 (on CPUs with
AVX512-BF16 / AMX, about twice as fast as fp32), while the weights, their gradients and the
optimiser's state stay fp32, so small updates are not rounded away. Evaluation of a bf16-trained
model runs under the same autocast, as the model will be used. ``"fp32"`` changes nothing.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16")
_AUTOCAST_DEVICES = ("cpu", "cuda")


def check_precision(precision: str) -> str:
    """Return ``precision`` when it is a known name; otherwise a ValueError names the choices."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                         f"got {precision!r}")
    return precision


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """The context that runs a forward pass (and loss) in ``precision`` on ``device``.

    ``"fp32"``: a no-op context. ``"bf16"``: ``torch.autocast`` with bfloat16 on a CPU or CUDA
    device; any other device is a ValueError (rather than silently training in fp32).
    """
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    kind = torch.device(device).type
    if kind not in _AUTOCAST_DEVICES:
        raise ValueError(f"precision 'bf16' needs a device of type {' or '.join(_AUTOCAST_DEVICES)}"
                         f" (torch.autocast with bfloat16), got device {str(device)!r}: "
                         f"use precision='fp32' there")
    return torch.autocast(device_type=kind, dtype=torch.bfloat16)
