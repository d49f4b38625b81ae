"""Pieces both explorers share: the image choices, the formula box and the "not allowed" box."""

from __future__ import annotations

import html

import torch

from cnnedu.images import list_photos, load_photo
from cnnedu.shapes import sliding_formula


def fashion_samples(count: int = 4) -> dict[str, torch.Tensor]:
    """The first test image of each of the first ``count`` classes, (1, 28, 28) in [0, 1]."""
    from cnnedu.data import CLASS_NAMES, FashionMNIST

    test = FashionMNIST("test")
    samples = {}
    for cls in range(count):
        index = int((test.labels == cls).nonzero()[0])
        samples[f"Fashion-MNIST: {CLASS_NAMES[cls]}"] = test.images[index][None].float() / 255
    return samples


SEED_NAME = "seed post's 4×4 tensor"


def seed_tensor() -> torch.Tensor:
    """The 4x4 tensor printed in the seed blog post's MaxPool2d example, shape (1, 4, 4)."""
    return torch.tensor([[[49., 16., 41., 35.], [47., 14., 33., 3.],
                          [31., 10., 19., 36.], [41., 27., 4., 1.]]])


def default_images(photo_size: int = 512, fashion: int = 4) -> dict[str, torch.Tensor]:
    """The course's photos (grey, ``photo_size`` square), ``fashion`` Fashion-MNIST samples and
    the seed post's 4x4 tensor (small inputs are the ones to watch the window slide over)."""
    images = {name: load_photo(name, photo_size, gray=True) for name in list_photos()}
    if fashion:
        images.update(fashion_samples(fashion))
    images[SEED_NAME] = seed_tensor()
    return images


def limit_note(slider) -> str:
    """Say so when a slider sits at its maximum. The browser cuts a larger typed value to the
    maximum before Python sees it, so the note states the limit without claiming a change (the
    learner may have typed exactly the maximum)."""
    if slider.value >= slider.max:
        return f"{slider.max} is this slider's maximum"
    return ""


def note_html(text: str) -> str:
    """A small grey note shown right next to a control (empty text: nothing shown)."""
    if not text:
        return ""
    return ("<span class='cnnedu-note' style='color:#8a5a00;font-size:12px'>"
            f"{html.escape(text, quote=False)}</span>")


def formula_html(height: int, width: int, kernel: int, stride: int, padding: int,
                 dilation: int, ceil_mode: bool = False) -> str:
    """Both dimensions' output-size formulas, filled in, as a monospace block."""
    rows = sliding_formula(height, kernel, stride, padding, dilation, ceil_mode)
    cols = sliding_formula(width, kernel, stride, padding, dilation, ceil_mode)
    return ("<div class='cnnedu-formula' style='font-family:monospace'>"
            f"H: {html.escape(rows)}<br>W: {html.escape(cols)}</div>")


def problem_html(text: str) -> str:
    """A friendly red box explaining why a setting is not allowed (never a traceback)."""
    return ("<div class='cnnedu-message' style='color:#a00;background:#fee;padding:4px'>"
            f"<b>This setting is not allowed:</b> {html.escape(text)}</div>")
