"""The course's real photos as float tensors.

The photos live in ``images/`` at the repository root, and inside an installed package in
``cnnedu/course/images/`` (see :mod:`cnnedu.course_files`). They are public domain or CC0; the
``README.md`` beside them lists the source and licence of each. Set ``CNNEDU_IMAGES`` to use
another folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cnnedu.course_files import course_path

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")


def images_dir() -> Path:
    """The photo folder: ``CNNEDU_IMAGES`` if set, else the course's own (installed or checkout)."""
    raw = os.environ.get("CNNEDU_IMAGES", "").strip()
    return Path(raw) if raw else course_path("images")


def list_photos() -> list[str]:
    """Names (without suffix) of the photo files in the folder, sorted (sub-folders are not read)."""
    folder = images_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"photo folder {folder} does not exist (set CNNEDU_IMAGES?)")
    return sorted(p.stem for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def photo_path(name: str) -> Path:
    """The file of photo ``name``; a FileNotFoundError lists the names that exist."""
    for suffix in PHOTO_SUFFIXES:
        path = images_dir() / f"{name}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no photo named {name!r} in {images_dir()}; "
                            f"available: {', '.join(list_photos())}")


def load_photo(name: str, size: int | tuple[int, int] | None = None,
               gray: bool = False) -> torch.Tensor:
    """Photo ``name`` as a float tensor in [0, 1], shape (3, H, W), or (1, H, W) if ``gray``.

    ``size`` resizes (an int gives a square: the photo is centre-cropped to a square first so
    nothing is stretched); resizing uses Pillow's area-averaging filter.
    """
    with Image.open(photo_path(name)) as img:
        img = img.convert("L" if gray else "RGB")
        if size is not None:
            if isinstance(size, int):
                if size < 1:
                    raise ValueError(f"size must be positive, got {size}")
                side = min(img.size)
                left, top = (img.width - side) // 2, (img.height - side) // 2
                img = img.crop((left, top, left + side, top + side))
                size = (size, size)
            height, width = size
            img = img.resize((width, height), Image.Resampling.BOX)
        array = np.asarray(img, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if gray else tensor.permute(2, 0, 1).contiguous()


def load_photos(size: int = 256, gray: bool = True) -> dict[str, torch.Tensor]:
    """Every photo, square ``size`` x ``size``, keyed by name."""
    return {name: load_photo(name, size, gray) for name in list_photos()}
