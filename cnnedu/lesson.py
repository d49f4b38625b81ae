"""The first cell of a training lesson: mode, seed, device and data, said once for every lesson."""

from __future__ import annotations

import torch

from cnnedu import config
from cnnedu.data import data_note
from cnnedu.device import choose_device
from cnnedu.threads import guard_threads


def start_lesson(quick: bool | None = None, seed: int = 0) -> tuple[bool, torch.device]:
    """Pick the mode (``quick``, else ``CNNEDU_QUICK``), seed everything, choose the device, and
    print all three plus which data the lesson will use. Returns ``(quick, device)``: lessons
    write ``QUICK, device = start_lesson(QUICK)``, one name for the mode before and after.

    Lessons that train call this from their parameters cell, so a learner sees at the top what
    their run will be (quick or full, CPU or GPU, full data or the bundled subset). When other
    work keeps CPU cores busy, it leaves PyTorch only the free ones and says so
    (:mod:`cnnedu.threads`).
    """
    quick = config.quick_mode(quick)
    config.seed_everything(seed)
    device = choose_device().device
    print("quick mode" if quick else "full mode", "| device:", device)
    note = guard_threads() if device.type == "cpu" else ""
    if note:
        print(note)
    print(data_note())
    return quick, device
