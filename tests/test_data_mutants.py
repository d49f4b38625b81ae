"""cnnedu.data, the parts a planted bug (mutation run, tests/MUTANTS.md) slipped past: the loader's
defaults and augmentation odds, the dataset's subset and text, the messages that tell the fix.

Truths: torch.randperm with the same seed, counts of a fair coin, offsets read off a lit pixel,
byte counts of hand-made idx files, the official split sizes.
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cnnedu import data
from cnnedu.data import BatchLoader, DataError, FashionMNIST, balanced_indices, read_idx


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNEDU_DATA", raising=False)
    monkeypatch.chdir(tmp_path)                  # so ./data is empty


def numbered(images):
    """A stand-in dataset whose label is each image's index, so a batch's labels show its order."""
    return SimpleNamespace(images=images, labels=torch.arange(len(images)))


def test_loader_defaults_are_256_in_order_unaugmented_and_seed_0():
    images = torch.randint(0, 256, (600, 28, 28), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    loader = BatchLoader(numbered(images))
    batches = list(loader)
    assert [len(y) for _, y in batches] == [256, 256, 88] and len(loader) == 3
    assert torch.equal(torch.cat([y for _, y in batches]), torch.arange(600))
    assert torch.equal(batches[0][0][:, 0], data.normalize(images[:256]))
    assert loader.device == torch.device("cpu") and batches[0][0].is_contiguous()
    shuffled = torch.cat([y for _, y in BatchLoader(numbered(images), 100, shuffle=True)])
    assert torch.equal(shuffled, torch.randperm(600, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        BatchLoader(numbered(images), 0)


def offsets(shift=None, count=600):
    """Where a mirror-symmetric lit pair of pixels lands after augmentation: (rows, cols)."""
    images = torch.zeros(count, 28, 28, dtype=torch.uint8)
    images[:, 14, 13:15] = 255
    kwargs = {} if shift is None else {"shift": shift}
    x, _ = next(iter(BatchLoader(numbered(images), count, augment=True, seed=0, **kwargs)))
    lit = x[:, 0] > 0
    assert (lit.sum(dim=(1, 2)) == 2).all()
    rows = lit.any(dim=2).float().argmax(dim=1) - 14
    cols = lit.any(dim=1).float().argmax(dim=1) - 13
    return set(rows.tolist()), set(cols.tolist())


@pytest.mark.parametrize(("shift", "reach"), [(None, 2), (1, 1), (3, 3), (0, 0)])
def test_augmentation_shifts_up_to_shift_pixels_both_ways(shift, reach):
    """The default shift is 2; shift=1 moves by -1, 0 or 1; shift=0 never moves."""
    rows, cols = offsets(shift)
    assert rows == set(range(-reach, reach + 1)) == cols


def test_half_the_images_are_mirrored():
    """A fair coin per image: of 4,000 images, 50 % +- 4 standard deviations are mirrored."""
    images = torch.zeros(4000, 28, 28, dtype=torch.uint8)
    images[:, :, :3] = 255                                  # lit on the left only
    x, _ = next(iter(BatchLoader(numbered(images), 4000, augment=True, shift=0, seed=5)))
    mirrored = (x[:, 0, :, -1] > 0).all(dim=1)
    assert torch.equal(mirrored, ~(x[:, 0, :, 0] > 0).all(dim=1))
    assert abs(mirrored.float().mean().item() - 0.5) < 4 * (0.25 / 4000) ** 0.5


def test_the_default_subset_is_seed_0_and_balanced_when_counts_do_not_divide():
    labels = torch.arange(200) % 10
    chosen = balanced_indices(labels, 15)
    assert torch.equal(chosen, balanced_indices(labels, 15, seed=0))
    assert not torch.equal(chosen, balanced_indices(labels, 15, seed=1))
    counts = torch.bincount(labels[chosen], minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 15
    assert chosen.tolist() == sorted(chosen.tolist())
    assert torch.equal(balanced_indices(labels, 200), torch.arange(200))
    assert torch.equal(balanced_indices(labels, 500), torch.arange(200))
    with pytest.raises(ValueError, match="limit must be at least 1, got 0"):
        balanced_indices(labels, 0)
    whole = FashionMNIST("test", "bundled")
    part = FashionMNIST("test", "bundled", limit=30)        # the dataset's default seed too
    assert torch.equal(part.labels, whole.labels[balanced_indices(whole.labels, 30)])


def test_normalize_by_hand():
    values = data.normalize(torch.tensor([0, 255], dtype=torch.uint8))
    assert values.dtype == torch.float32
    assert values.tolist() == pytest.approx([-0.2860 / 0.3530, (1 - 0.2860) / 0.3530])


def test_the_dataset_says_what_it_holds():
    ds = FashionMNIST("test", "bundled")
    assert repr(ds) == "FashionMNIST(split='test', n=1000, source=bundled subset (asked for))"
    assert str(ds.source) == "bundled subset (asked for)" and not ds.is_full
    assert str(data.DataSource("given path", Path("/x/y"))) == "given path: /x/y"


@pytest.mark.skipif(not (data.DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz").is_file()
                    and not (data.DEBIAN_DIR / "t10k-labels-idx1-ubyte").is_file(),
                    reason="the full data (Debian package dataset-fashion-mnist) is not here")
def test_the_full_split_is_full_and_the_banner_says_so():
    test = FashionMNIST("test", data.DEBIAN_DIR)
    assert len(test) == 10_000 and test.is_full
    assert not FashionMNIST("test", data.DEBIAN_DIR, limit=9_999).is_full
    note = data.data_note(data.DEBIAN_DIR)
    assert note == (f"Data: 60,000 training + 10,000 test images, from given path: "
                    f"{data.DEBIAN_DIR} (full Fashion-MNIST)")


def test_the_banner_of_the_subset_warns_that_numbers_will_differ():
    lines = data.data_note("bundled").splitlines()
    assert lines[0] == ("Data: 2,000 training + 1,000 test images, from bundled subset "
                        "(asked for)")
    assert lines[1] == lines[-1] == "!" * 88 and len(lines) == 6
    assert "NOT the full data set" in lines[2] and "./course.sh data" in lines[4]


def idx_bytes(shape, body=None, magic=(0, 0, 8)):
    header = bytes([*magic, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape)
    body = bytes(int(np.prod(shape))) if body is None else body
    return header + body


@pytest.mark.parametrize(("raw", "message"), [
    (b"\x00\x00", "is not an unsigned-byte idx file (bad magic number)"),
    (idx_bytes((2,), magic=(1, 0, 8)), "bad magic number"),
    (idx_bytes((2,), magic=(0, 1, 8)), "bad magic number"),
    (idx_bytes((2,), magic=(0, 0, 9)), "bad magic number"),
    (bytes([0, 0, 8, 2, 0, 0, 0]), "is truncated inside its header"),
    (idx_bytes((2, 3), bytes(5)), "header says shape (2, 3) (18 bytes), file has 17 bytes"),
    (idx_bytes((2, 3), bytes(7)), "header says shape (2, 3) (18 bytes), file has 19 bytes"),
])
def test_broken_idx_files_are_named_with_the_fix(tmp_path, raw, message):
    path = tmp_path / "broken-idx"
    path.write_bytes(raw)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "Fix: `./course.sh data`" in str(info.value)


def test_a_good_idx_file_by_hand(tmp_path):
    path = tmp_path / "ok-idx"
    path.write_bytes(idx_bytes((2, 3), bytes(range(6))))
    array = read_idx(path)
    assert array.dtype == np.uint8 and array.tolist() == [[0, 1, 2], [3, 4, 5]]
    path.write_bytes(idx_bytes((0,), b""))
    assert read_idx(path).shape == (0,)


def write_split(folder, images, labels, split="train"):
    folder.mkdir(parents=True, exist_ok=True)
    image_name, label_name = data.SPLIT_FILES[split]
    (folder / image_name).write_bytes(idx_bytes(images.shape, images.astype(np.uint8).tobytes()))
    (folder / label_name).write_bytes(idx_bytes(labels.shape, labels.astype(np.uint8).tobytes()))
    return folder


@pytest.mark.parametrize(("images", "labels", "message"), [
    (np.zeros((3, 28, 27)), np.zeros(3), "holds shape (3, 28, 27), not (N, 28, 28)"),
    (np.zeros((3, 28)), np.zeros(3), "holds shape (3, 28), not (N, 28, 28)"),
    (np.zeros((3, 28, 28)), np.zeros((3, 1)), "not (N, 28, 28)"),
    (np.zeros((3, 28, 28)), np.zeros(2), "has 3 images but"),
    (np.zeros((3, 28, 28)), np.array([0, 10, 3]), "holds label 10, outside 0-9"),
])
def test_a_folder_with_bad_contents_is_named(tmp_path, images, labels, message):
    folder = write_split(tmp_path / "raw", images, labels)
    with pytest.raises(DataError) as info:
        data.sources._load_folder(folder, "train")
    assert message in str(info.value) and "Fix:" in str(info.value)


def test_labels_up_to_9_are_accepted(tmp_path):
    folder = write_split(tmp_path / "raw", np.zeros((2, 28, 28)), np.array([9, 0]))
    images, labels = data.sources._load_folder(folder, "train")
    assert images.shape == (2, 28, 28) and labels.tolist() == [9, 0]


def test_the_search_order_and_its_names(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    kinds = [kind for kind, _ in data.candidate_folders("~/mine")]
    folders = [folder for _, folder in data.candidate_folders("~/mine")]
    assert kinds == ["given path", "course data folder", "torchvision folder",
                     "torchvision folder", "torchvision folder",
                     "Debian package dataset-fashion-mnist"]
    assert folders[0] == tmp_path / "home" / "mine" and folders[1] == data.COURSE_DATA_DIR
    monkeypatch.setenv("CNNEDU_DATA", str(tmp_path / "env"))
    assert data.candidate_folders()[0] == ("CNNEDU_DATA", tmp_path / "env")
    assert data.candidate_folders(tmp_path / "given")[0] == ("given path", tmp_path / "given")
    assert "CNNEDU_DATA" not in [k for k, _ in data.candidate_folders(tmp_path / "given")]


def test_an_explicit_folder_without_the_files_is_named_with_its_kind(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNEDU_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataError) as info:
        data.find_split("test")
    text = str(info.value)
    assert text.startswith(f"CNNEDU_DATA {tmp_path / 'empty'} does not hold the Fashion-MNIST "
                           f"test files t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte")
    assert "Fix:" in text


def test_nothing_found_lists_every_folder_tried(monkeypatch, tmp_path):
    monkeypatch.setattr(data.sources, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(data.sources, "COURSE_DATA_DIR", tmp_path / "no-course")
    monkeypatch.setattr(data.sources, "BUNDLE_PATH", tmp_path / "no-bundle.npz")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataError) as info:
        data.find_split("train")
    text = str(info.value)
    assert text.startswith("Fashion-MNIST train split not found. Tried: "
                           f"{tmp_path / 'no-course'}; data/FashionMNIST/raw; ")
    assert f"; {tmp_path / 'no-debian'}. Fix:" in text


def test_a_corrupt_bundle_says_to_reinstall(monkeypatch, tmp_path):
    broken = tmp_path / "bundle.npz"
    broken.write_bytes(b"not a zip")
    monkeypatch.setattr(data.sources, "BUNDLE_PATH", broken)
    with pytest.raises(DataError, match=r"the bundled subset .*bundle\.npz is missing or corrupt"
                                        r".*Reinstall cnnedu \(`pip install -e \.`\)"):
        data.load_bundle("train")
    monkeypatch.setattr(data.sources, "BUNDLE_PATH", tmp_path / "missing.npz")
    with pytest.raises(DataError, match="missing or corrupt"):
        data.find_split("train", "bundled")
