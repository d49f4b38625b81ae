"""Choose where tensors live: CUDA, then Apple's MPS, then the CPU, unless told otherwise.

The choice comes with a reason in plain words, so notebook 00 can tell a learner *why* a run
is on the CPU (no GPU found, or ``CNNEDU_DEVICE=cpu`` set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from cnnedu import config

_VALID = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class DeviceChoice:
    """The picked device and a sentence saying why it was picked."""

    device: torch.device
    reason: str

    def __str__(self) -> str:
        return f"{self.device} ({self.reason})"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_device(preference: str | None = None) -> DeviceChoice:
    """Pick a device from ``preference`` (default: ``CNNEDU_DEVICE``, else ``auto``).

    ``auto`` tries cuda, then mps, then cpu. An explicit device that is not present raises
    ``RuntimeError`` (silently falling back would make a learner think the GPU was used);
    a name that is not a device raises ``ValueError``.
    """
    source = "argument" if preference is not None else "CNNEDU_DEVICE"
    wanted = (preference if preference is not None else config.device_setting()).strip().lower()
    if not _VALID.match(wanted):
        raise ValueError(
            f"device must be one of auto, cpu, cuda, cuda:N, mps; got {wanted!r} (from {source})"
        )
    if wanted == "auto":
        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            return DeviceChoice(torch.device("cuda"), f"auto: CUDA GPU found ({name})")
        if _mps_available():
            return DeviceChoice(torch.device("mps"), "auto: Apple MPS found")
        return DeviceChoice(torch.device("cpu"), "auto: no CUDA or MPS device found")
    if wanted.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"{wanted!r} was asked for ({source}) but torch sees no CUDA GPU")
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        if index >= torch.cuda.device_count():
            raise RuntimeError(
                f"{wanted!r} was asked for but only {torch.cuda.device_count()} GPU(s) exist"
            )
    if wanted == "mps" and not _mps_available():
        raise RuntimeError(f"'mps' was asked for ({source}) but torch sees no MPS device")
    return DeviceChoice(torch.device(wanted), f"set by {source}")


def get_device(preference: str | None = None) -> torch.device:
    """Shorthand for ``choose_device(preference).device``."""
    return choose_device(preference).device


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a model's first parameter (the CPU for a model without parameters)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def resolve_device(device: torch.device | str | None = None) -> torch.device:
    """The one rule for every ``device=`` argument in cnnedu: None means *auto* (:func:`get_device`,
    i.e. ``CNNEDU_DEVICE`` or cuda > mps > cpu), anything else is ``torch.device(device)``.

    Every function that builds loaders, times steps or trains resolves its device once with this,
    so loaders, timing probes and training all use the same device.
    """
    return get_device() if device is None else torch.device(device)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work on ``device`` (CUDA runs asynchronously), so a clock read after
    it measures the work; a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
