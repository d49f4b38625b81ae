"""Training precision by name: ``"fp32"`` (plain), ``"bf16"`` (``torch.autocast`` with
bfloat16) or ``"auto"`` (bf16 where the hardware computes it natively, else fp32).

Under ``"bf16"`` the forward pass and the loss run inside ``torch.autocast(device_type,
dtype=torch.bfloat16)``: convolutions and matrix products compute in bfloat16 (on CPUs with
AVX512-BF16 / AMX, about twice as fast as fp32), while the weights, their gradients and the
optimiser's state stay fp32, so small updates are not rounded away. Evaluation of a bf16-trained
model runs under the same autocast, as the model will be used. ``"fp32"`` changes nothing.

``"auto"`` (the lesson recipes' setting) picks bf16 only where it is fast: a CUDA GPU that
supports it, or a CPU whose flags list ``avx512_bf16`` or ``amx_bf16`` (Linux). Elsewhere (most
laptops: AVX2 CPUs, Apple's MPS) bf16 would be emulated and slower than fp32, so auto means
fp32 there. ``CNNEDU_PRECISION=fp32`` (or ``bf16``) overrides the automatic choice, as
``CNNEDU_DEVICE`` does for the device. Results then differ slightly between machines, so the
lessons print the precision they trained in.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

PRECISIONS = ("fp32", "bf16", "auto")
_AUTOCAST_DEVICES = ("cpu", "cuda")
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def check_precision(precision: str) -> str:
    """Return ``precision`` when it is a known name; otherwise a ValueError names the choices."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                         f"got {precision!r}")
    return precision


CPUINFO = Path("/proc/cpuinfo")


def first_cpu_fields(cpuinfo: Path = CPUINFO) -> dict[str, str]:
    """The first processor's fields in Linux's ``/proc/cpuinfo`` (``{"flags": ..., "model
    name": ..., ...}``; empty where there is no such file). Every core lists the same CPU, so
    the first block describes the machine."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            fields.setdefault(name.strip(), value.strip())
        elif fields:         # a blank line ends the first processor's block
            break
    return fields


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The CPU's feature flags as Linux lists them (an empty set elsewhere)."""
    return set(first_cpu_fields(cpuinfo).get("flags", "").split())


def native_bf16(device: torch.device | str, flags: set[str] | None = None) -> bool:
    """Whether ``device`` computes bfloat16 natively (so bf16 autocast makes training faster)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind == "cpu":
        onednn = bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())
        return onednn and bool(set(NATIVE_BF16_CPU_FLAGS)
                               & (cpu_flags() if flags is None else flags))
    return False


def resolve_precision(precision: str, device: torch.device | str,
                      flags: set[str] | None = None) -> str:
    """``"fp32"`` or ``"bf16"``: ``precision`` itself, or for ``"auto"`` the choice for ``device``
    (``CNNEDU_PRECISION`` first, then :func:`native_bf16`)."""
    check_precision(precision)
    if precision != "auto":
        return precision
    chosen = os.environ.get("CNNEDU_PRECISION")
    if chosen:
        if chosen not in ("fp32", "bf16"):
            raise ValueError(f"CNNEDU_PRECISION must be 'fp32' or 'bf16', got {chosen!r}")
        return chosen
    return "bf16" if native_bf16(device, flags) else "fp32"


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """The context that runs a forward pass (and loss) in ``precision`` on ``device``.

    ``"fp32"``: a no-op context. ``"bf16"``: ``torch.autocast`` with bfloat16 on a CPU or CUDA
    device; any other device is a ValueError (rather than silently training in fp32).
    """
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    kind = torch.device(device).type
    if kind not in _AUTOCAST_DEVICES:
        raise ValueError(f"precision 'bf16' needs a device of type {' or '.join(_AUTOCAST_DEVICES)}"
                         f" (torch.autocast with bfloat16), got device {str(device)!r}: "
                         f"use precision='fp32' there")
    return torch.autocast(device_type=kind, dtype=torch.bfloat16)
