"""The idx file format of (Fashion-)MNIST, read with checks whose errors name the file and the fix."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

FIX = (
    "Fix: `./course.sh data` (downloads it), or `sudo apt-get install dataset-fashion-mnist`, "
    "or set CNNEDU_DATA to a folder holding the four idx files (train-images-idx3-ubyte[.gz], "
    "...), or delete the broken file."
)


class DataError(RuntimeError):
    """Fashion-MNIST could not be read; the message says which paths were tried and how to fix it."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx file (optionally gzipped) into a NumPy array, checking its header and length."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"cannot read {path}: {err}. {FIX}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte idx file (bad magic number). {FIX}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header. {FIX}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{path} is truncated or corrupt: header says shape {shape} ({expected} bytes), "
            f"file has {len(raw)} bytes. {FIX}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
