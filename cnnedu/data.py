"""Fashion-MNIST, found offline first, held in memory as one uint8 tensor per split.

Where the data comes from, in this order (the first that has all four idx files wins):

1. a folder passed as ``root`` or set in ``CNNEDU_DATA``;
2. the course's own folder, ``data/FashionMNIST/raw`` beside this package (where
   ``./course.sh data``, i.e. :mod:`cnnedu.download`, puts its download);
3. torchvision's usual folder, ``<root>/FashionMNIST/raw`` under ``./data``, ``~/data`` and
   ``~/.cache/torchvision``;
4. Debian's ``dataset-fashion-mnist`` package, ``/usr/share/datasets/fashion-mnist``;
5. the subset bundled inside this package (2,000 train + 1,000 test images, balanced).

Nothing here touches the network (offline first: a notebook never waits on a download);
fetching the real files is setup's job, in :mod:`cnnedu.download`.

``CNNEDU_DATA=bundled`` (or ``root="bundled"``) skips the search and uses the bundled subset: quick
runs on a slow machine, and a check that everything works without the real files.

A folder that is missing is skipped. A file that is present but truncated or corrupt is an
error (never silently replaced by another source), and the message names the file and the fix.
Fashion-MNIST is (c) Zalando SE, released under the MIT licence.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnedu import config

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MEAN, STD = 0.2860, 0.3530  # of the 60,000 training images, scaled to [0, 1]

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
COURSE_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "FashionMNIST" / "raw"
BUNDLE_PATH = Path(__file__).parent / "data_bundle" / "fashion_mnist_subset.npz"
_FIX = (
    "Fix: `./course.sh data` (downloads it), or `sudo apt-get install dataset-fashion-mnist`, "
    "or set CNNEDU_DATA to a folder holding the four idx files (train-images-idx3-ubyte[.gz], "
    "...), or delete the broken file."
)


class DataError(RuntimeError):
    """Fashion-MNIST could not be read; the message says which paths were tried and how to fix it."""


@dataclass(frozen=True)
class DataSource:
    """Where a split was read from: ``kind`` in words and the folder (None for the bundle)."""

    kind: str
    path: Path | None

    def __str__(self) -> str:
        return self.kind if self.path is None else f"{self.kind}: {self.path}"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx file (optionally gzipped) into a NumPy array, checking its header and length."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"cannot read {path}: {err}. {_FIX}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte idx file (bad magic number). {_FIX}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header. {_FIX}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{path} is truncated or corrupt: header says shape {shape} ({expected} bytes), "
            f"file has {len(raw)} bytes. {_FIX}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _split_paths(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of ``split`` in ``folder``, gzipped or not; None if absent."""
    found = []
    for stem in SPLIT_FILES[split]:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                found.append(folder / name)
                break
    return (found[0], found[1]) if len(found) == 2 else None


def _load_folder(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    paths = _split_paths(folder, split)
    if paths is None:
        raise DataError(
            f"{folder} lacks the {split} files {' and '.join(SPLIT_FILES[split])} "
            f"(plain or .gz). {_FIX}"
        )
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise DataError(f"{paths[0]} holds shape {images.shape}, not (N, 28, 28). {_FIX}")
    if len(images) != len(labels):
        raise DataError(f"{paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} "
                        f"labels. {_FIX}")
    if labels.max(initial=0) > 9:
        raise DataError(f"{paths[1]} holds label {labels.max()}, outside 0-9. {_FIX}")
    return images, labels


def candidate_folders(root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The folders searched, in order, with a name for each."""
    folders: list[tuple[str, Path]] = []
    if root is not None:
        folders.append(("given path", Path(root).expanduser()))
    elif config.data_dir() is not None:
        folders.append(("CNNEDU_DATA", config.data_dir()))
    folders.append(("course data folder", COURSE_DATA_DIR))
    for base in (Path("data"), Path.home() / "data", Path.home() / ".cache" / "torchvision"):
        folder = base / "FashionMNIST" / "raw"
        if folder.resolve() != COURSE_DATA_DIR:
            folders.append(("torchvision folder", folder))
    folders.append(("Debian package dataset-fashion-mnist", DEBIAN_DIR))
    return folders


def load_bundle(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The bundled balanced subset (2,000 train / 1,000 test images)."""
    try:
        with np.load(BUNDLE_PATH) as bundle:
            return bundle[f"{split}_images"], bundle[f"{split}_labels"]
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"the bundled subset {BUNDLE_PATH} is missing or corrupt: {err}. "
                        "Reinstall cnnedu (`pip install -e .`).") from err


def find_split(
    split: str, root: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray, DataSource]:
    """Images (N, 28, 28) uint8, labels (N,) uint8 and the source of ``split``, searched in order.

    A folder given by ``root`` or ``CNNEDU_DATA`` must hold the data: if it does not, that is an
    error rather than a silent fall-back to another source.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    wanted = str(root) if root is not None else str(config.data_dir() or "")
    if wanted == "bundled":
        images, labels = load_bundle(split)
        return images, labels, DataSource("bundled subset (asked for)", None)
    tried = []
    for kind, folder in candidate_folders(root):
        explicit = kind in ("given path", "CNNEDU_DATA")
        if _split_paths(folder, split) is None:
            tried.append(str(folder))
            if explicit:
                raise DataError(
                    f"{kind} {folder} does not hold the Fashion-MNIST {split} files "
                    f"{' and '.join(SPLIT_FILES[split])} (plain or .gz). {_FIX}"
                )
            continue
        images, labels = _load_folder(folder, split)
        return images, labels, DataSource(kind, folder)
    if BUNDLE_PATH.is_file():
        images, labels = load_bundle(split)
        return images, labels, DataSource("bundled subset (cnnedu/data_bundle)", None)
    raise DataError(f"Fashion-MNIST {split} split not found. Tried: {'; '.join(tried)}. {_FIX}")


def data_note(root: str | os.PathLike | None = None) -> str:
    """Which Fashion-MNIST this run uses, for the top of every lesson; on anything less than the
    full data, a visible note that results (accuracies, plots) will differ from the lesson's text.
    """
    counts, sources = {}, set()
    for split in SPLIT_FILES:
        _, labels, source = find_split(split, root)
        counts[split] = len(labels)
        sources.add(str(source))
    line = (f"Data: {counts['train']:,} training + {counts['test']:,} test images, from "
            f"{' and '.join(sorted(sources))}")
    if counts == SPLIT_SIZES:
        return line + " (full Fashion-MNIST)"
    return (line + "\n" + "!" * 88 + "\n"
            "! NOTE: this is NOT the full data set: trainings see fewer images, so accuracies\n"
            "! and plots will differ from (be lower than) the numbers in the text. For the full\n"
            "! 70,000 images run `./course.sh data` (README: 'Where the data comes from').\n"
            + "!" * 88)


class FashionMNIST(torch.utils.data.Dataset):
    """One split of Fashion-MNIST in memory: ``images`` (N, 28, 28) uint8, ``labels`` (N,) int64.

    Indexing gives ``(image, label)`` with the image as a normalised float tensor (1, 28, 28),
    like torchvision's dataset with ``ToTensor()`` and ``Normalize``; training code should use
    :class:`BatchLoader`, which slices whole batches instead of one item at a time.
    """

    classes = CLASS_NAMES

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 limit: int | None = None, seed: int = 0):
        images, labels, source = find_split(split, root)
        self.split, self.source = split, source
        self.images = torch.from_numpy(images.copy())
        self.labels = torch.from_numpy(labels.astype(np.int64))
        if limit is not None:
            keep = balanced_indices(self.labels, limit, seed)
            self.images, self.labels = self.images[keep], self.labels[keep]

    @property
    def is_full(self) -> bool:
        """True when this split holds the whole official split (60,000 or 10,000 images)."""
        return len(self) == SPLIT_SIZES[self.split]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return normalize(self.images[index][None]), int(self.labels[index])

    def __repr__(self) -> str:
        return f"FashionMNIST(split={self.split!r}, n={len(self)}, source={self.source})"


def balanced_indices(labels: torch.Tensor, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` indices with the classes as equal as possible, chosen at random but repeatably."""
    if count < 1:
        raise ValueError(f"limit must be at least 1, got {count}")
    if count >= len(labels):
        return torch.arange(len(labels))
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    # Stable sort by "rank of this item within its class": takes round-robin across classes.
    rank = torch.empty_like(order)
    shuffled = labels[order]
    for cls in shuffled.unique():
        where = (shuffled == cls).nonzero().flatten()
        rank[where] = torch.arange(len(where))
    keep = order[torch.argsort(rank, stable=True)[:count]]
    return keep.sort().values


def normalize(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32, scaled to [0, 1] then standardised with the training mean/std."""
    return (images_uint8.float() / 255.0 - MEAN) / STD


class BatchLoader:
    """Batches straight from the in-memory tensors: no per-item Python, no worker processes.

    Each batch is ``(x, y)`` with ``x`` float32 of shape (B, 1, 28, 28), normalised, on
    ``device``, optionally in channels_last memory format. ``augment=True`` adds a random
    horizontal flip and a random shift of up to ``shift`` pixels (zero padded), done per batch
    with tensor indexing. It is about 20x faster than a ``DataLoader`` over a PIL dataset on
    2 CPU cores, which is what makes training in the lessons' time budgets possible.
    """

    def __init__(self, dataset: FashionMNIST, batch_size: int = 256, shuffle: bool = False,
                 augment: bool = False, shift: int = 2, device: torch.device | str = "cpu",
                 channels_last: bool = False, drop_last: bool = False, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size, self.shuffle, self.augment, self.shift = batch_size, shuffle, augment, shift
        self.device = torch.device(device)
        self.channels_last, self.drop_last = channels_last, drop_last
        self.generator = torch.Generator().manual_seed(seed)
        self._images = dataset.images.to(self.device)
        self._labels = dataset.labels.to(self.device)

    def __len__(self) -> int:
        n = len(self._labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self._labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.device)
        for b in range(len(self)):
            yield self._batch(order[b * self.batch_size:(b + 1) * self.batch_size])

    def _batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of samples ``index``: augmented (if asked), normalised, in its layout."""
        images = self._images[index]
        if self.augment:
            images = self._augment(images)
        x = normalize(images).unsqueeze(1)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self._labels[index]

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        count, height, width = images.shape
        flip = torch.rand(count, generator=self.generator) < 0.5
        images = torch.where(flip.to(images.device)[:, None, None], images.flip(-1), images)
        if self.shift == 0:
            return images
        s = self.shift
        padded = torch.nn.functional.pad(images, (s, s, s, s))
        dy = torch.randint(0, 2 * s + 1, (count,), generator=self.generator).to(images.device)
        dx = torch.randint(0, 2 * s + 1, (count,), generator=self.generator).to(images.device)
        rows = (torch.arange(height, device=images.device)[None] + dy[:, None])[:, :, None]
        cols = (torch.arange(width, device=images.device)[None] + dx[:, None])[:, None, :]
        batch = torch.arange(count, device=images.device)[:, None, None]
        return padded[batch, rows, cols]
