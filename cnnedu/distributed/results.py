"""A run's result on disk (``result.json`` + ``state.pt``) and how far two runs' weights differ."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch


def write_result(folder: str | os.PathLike, result: dict) -> None:
    """``result.json`` (everything but the weights) and ``state.pt`` (the final state dict)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(result["state"], folder / "state.pt")
    plain = {k: v for k, v in result.items() if k != "state"}
    (folder / "result.json").write_text(json.dumps(plain, indent=1))


def read_result(folder: str | os.PathLike) -> dict:
    """What :func:`write_result` wrote, with the state dict under ``state``."""
    folder = Path(folder)
    result = json.loads((folder / "result.json").read_text())
    result["state"] = torch.load(folder / "state.pt", weights_only=True)
    return result


def max_state_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor],
                   buffers: bool = True) -> float:
    """Largest absolute difference between two state dicts with the same keys (floats only)."""
    if set(a) != set(b):
        raise ValueError(f"state dicts differ in keys: {sorted(set(a) ^ set(b))[:5]}")
    diffs = [float((a[k].double() - b[k].double()).abs().max()) for k in a
             if a[k].is_floating_point() and (buffers or not k.endswith(("running_mean",
                                                                          "running_var")))]
    return max(diffs, default=0.0)
