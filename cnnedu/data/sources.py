"""Where Fashion-MNIST is found (the lookup order in :mod:`cnnedu.data`), and the banner that says so."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnedu import config
from cnnedu.data.idx import FIX as _FIX
from cnnedu.data.idx import DataError, read_idx

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
COURSE_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "FashionMNIST" / "raw"
BUNDLE_PATH = Path(__file__).resolve().parents[1] / "data_bundle" / "fashion_mnist_subset.npz"


@dataclass(frozen=True)
class DataSource:
    """Where a split was read from: ``kind`` in words and the folder (None for the bundle)."""

    kind: str
    path: Path | None

    def __str__(self) -> str:
        return self.kind if self.path is None else f"{self.kind}: {self.path}"


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
