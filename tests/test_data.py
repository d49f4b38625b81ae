"""cnnedu.data: the lookup order, the bundled subset, fast batches, and clear errors."""

import gzip
import struct

import numpy as np
import pytest
import torch

from cnnedu import data
from cnnedu.data import BatchLoader, DataError, FashionMNIST, find_split, read_idx


def write_idx(path, array, compress=False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def make_folder(folder, n=20, compress=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for images, labels in data.SPLIT_FILES.values():
        suffix = ".gz" if compress else ""
        write_idx(folder / (images + suffix), rng.integers(0, 256, (n, 28, 28)), compress)
        write_idx(folder / (labels + suffix), np.arange(n) % 10, compress)
    return folder


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNEDU_DATA", raising=False)
    monkeypatch.chdir(tmp_path)                  # so ./data is empty


def test_given_path_wins_plain_and_gzipped(tmp_path):
    for compress in (False, True):
        folder = make_folder(tmp_path / f"d{compress}", compress=compress)
        images, labels, source = find_split("train", folder)
        assert images.shape == (20, 28, 28) and labels.tolist() == list(range(10)) * 2
        assert source.kind == "given path" and source.path == folder


def test_cnnedu_data_env_is_used(monkeypatch, tmp_path):
    folder = make_folder(tmp_path / "env")
    monkeypatch.setenv("CNNEDU_DATA", str(folder))
    assert FashionMNIST("test").source.kind == "CNNEDU_DATA"


def test_explicit_folder_without_data_is_an_error_naming_it(tmp_path):
    with pytest.raises(DataError) as err:
        find_split("train", tmp_path / "nowhere")
    assert "nowhere" in str(err.value) and "apt-get install dataset-fashion-mnist" in str(err.value)


def test_torchvision_folder_is_found(tmp_path):
    make_folder(tmp_path / "data" / "FashionMNIST" / "raw")
    assert find_split("train")[2].kind == "torchvision folder"


def test_debian_package_then_bundle(monkeypatch, tmp_path):
    monkeypatch.setattr(data.sources, "DEBIAN_DIR", make_folder(tmp_path / "debian"))
    assert find_split("train")[2].kind.startswith("Debian")
    monkeypatch.setattr(data.sources, "DEBIAN_DIR", tmp_path / "absent")
    images, labels, source = find_split("train")
    assert source.path is None and "bundled" in source.kind
    assert images.shape == (2000, 28, 28) and np.bincount(labels).tolist() == [200] * 10
    test_images, test_labels, _ = find_split("test")
    assert test_images.shape == (1000, 28, 28) and np.bincount(test_labels).tolist() == [100] * 10


def test_missing_bundle_and_no_source_names_paths_tried(monkeypatch, tmp_path):
    monkeypatch.setattr(data.sources, "DEBIAN_DIR", tmp_path / "absent")
    monkeypatch.setattr(data.sources, "BUNDLE_PATH", tmp_path / "no_bundle.npz")
    with pytest.raises(DataError) as err:
        find_split("train")
    assert "absent" in str(err.value) and "Tried" in str(err.value)


def test_truncated_file_is_a_clear_error(tmp_path):
    folder = make_folder(tmp_path / "trunc")
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated or corrupt.*train-images"):
        find_split("train", folder)


def test_corrupt_gzip_and_bad_magic_are_clear_errors(tmp_path):
    folder = make_folder(tmp_path / "gz", compress=True)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read .*t10k-labels"):
        find_split("test", folder)
    bad = tmp_path / "magic"
    bad.write_bytes(b"\x12\x34\x56\x78")
    with pytest.raises(DataError, match="magic"):
        read_idx(bad)


def test_half_present_split_is_reported(tmp_path):
    folder = make_folder(tmp_path / "half")
    (folder / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="does not hold"):
        find_split("train", folder)


def test_mismatched_counts_and_bad_labels(tmp_path):
    folder = make_folder(tmp_path / "mismatch")
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(5))
    with pytest.raises(DataError, match="20 images but"):
        find_split("train", folder)
    write_idx(folder / "train-labels-idx1-ubyte", np.full(20, 12))
    with pytest.raises(DataError, match="label 12"):
        find_split("train", folder)


def test_bad_split_name():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        find_split("validation")


def test_dataset_items_are_normalised_and_limit_is_balanced():
    ds = FashionMNIST("train", limit=100)
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and isinstance(y, int)
    assert y == int(ds.labels[0]) and torch.equal(x[0], data.normalize(ds.images[0]))
    assert torch.bincount(ds.labels).tolist() == [10] * 10
    # MEAN and STD are the data's own: the (class-balanced) bundled subset comes out standardised
    bundled = data.normalize(FashionMNIST("train", "bundled").images)
    assert abs(bundled.mean().item()) < 0.01 and abs(bundled.std().item() - 1) < 0.01
    assert ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10


def test_batch_loader_shapes_order_and_augmentation():
    ds = FashionMNIST("test", limit=250)
    plain = BatchLoader(ds, 100)
    batches = list(plain)
    assert len(plain) == 3 and [len(y) for _, y in batches] == [100, 100, 50]
    assert torch.equal(torch.cat([y for _, y in batches]), ds.labels)
    x, _ = batches[0]
    torch.testing.assert_close(x[0], ds[0][0])
    aug = BatchLoader(ds, 100, augment=True, shift=2, channels_last=True, seed=1)
    xa, ya = next(iter(aug))
    assert xa.shape == (100, 1, 28, 28) and xa.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(xa, x)
    # without a shift, augmentation is a horizontal flip of some images, the others untouched
    flipped = next(iter(BatchLoader(ds, 100, augment=True, shift=0, seed=1)))[0]
    same = [torch.equal(a, b) for a, b in zip(flipped, x, strict=True)]
    mirrored = [torch.equal(a, b.flip(-1)) for a, b in zip(flipped, x, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 20 < sum(not s for s in same) < 80
    assert len(BatchLoader(ds, 100, drop_last=True)) == 2
    with pytest.raises(ValueError):
        BatchLoader(ds, 0)
    # Same seed -> same batches (reproducible runs).
    again = next(iter(BatchLoader(ds, 100, shuffle=True, augment=True, seed=3)))
    once = next(iter(BatchLoader(ds, 100, shuffle=True, augment=True, seed=3)))
    other = next(iter(BatchLoader(ds, 100, shuffle=True, augment=True, seed=4)))
    assert torch.equal(again[0], once[0]) and not torch.equal(again[0], other[0])


def test_shift_augmentation_moves_content():
    ds = FashionMNIST("test", limit=10)
    loader = BatchLoader(ds, 10, augment=True, shift=2, seed=0)
    images = ds.images[:10].clone()
    shifted = loader._augment(images)
    for original, moved in zip(images, shifted, strict=True):
        candidates = [torch.roll(torch.nn.functional.pad(o, (2, 2, 2, 2)), (dy, dx), (0, 1))
                      [2:-2, 2:-2] for o in (original, original.flip(-1))
                      for dy in range(-2, 3) for dx in range(-2, 3)]
        assert any(torch.equal(moved, c) for c in candidates)
    assert not torch.equal(shifted, images)                 # it did move something


def test_bundled_can_be_asked_for(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    ds = FashionMNIST("train")
    assert len(ds) == 2000 and ds.source.path is None and "bundled" in ds.source.kind
    assert not ds.is_full
    assert find_split("test", "bundled")[0].shape == (1000, 28, 28)


def _numbered(images):
    """A stand-in dataset whose label is each image's index, so a batch's labels show its order."""
    from types import SimpleNamespace

    return SimpleNamespace(images=images, labels=torch.arange(len(images)))


def test_loader_shuffles_only_when_asked_and_gives_every_sample_once():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (300, 28, 28), dtype=torch.uint8, generator=generator)
    data = _numbered(images)
    plain = [(x, y) for x, y in BatchLoader(data, 64)]
    assert torch.equal(torch.cat([y for _, y in plain]), torch.arange(300))
    shuffled = BatchLoader(data, 64, shuffle=True, seed=1)
    first, second = (torch.cat([y for _, y in shuffled]) for _ in range(2))
    for order in (first, second):
        assert sorted(order.tolist()) == list(range(300))     # a permutation: each sample once
    assert not torch.equal(first, torch.arange(300)) and not torch.equal(first, second)
    for x, y in shuffled:                                       # each image keeps its label
        torch.testing.assert_close(x[:, 0], (images[y].float() / 255 - 0.2860) / 0.3530)


def test_shift_reaches_every_offset_up_to_shift_both_ways():
    """A lit pair of pixels at (row 14, cols 13-14) is its own mirror image, so only the shift
    moves it: over 600 draws with shift=2 it must land at every offset in -2..2 on both axes."""
    images = torch.zeros(600, 28, 28, dtype=torch.uint8)
    images[:, 14, 13:15] = 255
    x, _ = next(iter(BatchLoader(_numbered(images), 600, augment=True, shift=2, seed=0)))
    lit = x[:, 0] > 0
    assert (lit.sum(dim=(1, 2)) == 2).all()                   # moved, never cut or blurred
    rows = lit.any(dim=2).float().argmax(dim=1) - 14
    cols = lit.any(dim=1).float().argmax(dim=1) - 13
    assert set(rows.tolist()) == set(range(-2, 3)) == set(cols.tolist())


def test_a_folder_missing_a_file_names_both_files(tmp_path):
    folder = make_folder(tmp_path / "half")
    (folder / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="lacks the train files train-images-idx3-ubyte and "
                                        "train-labels-idx1-ubyte"):
        data.sources._load_folder(folder, "train")


def test_torchvisions_usual_folders_are_searched(monkeypatch):
    from pathlib import Path

    monkeypatch.delenv("CNNEDU_DATA", raising=False)
    folders = [folder for _, folder in data.candidate_folders()]
    for base in (Path("data"), Path.home() / "data", Path.home() / ".cache" / "torchvision"):
        assert base / "FashionMNIST" / "raw" in folders
    assert folders[-1] == Path("/usr/share/datasets/fashion-mnist")
