"""Setup's download of full Fashion-MNIST, with the network simulated (no real connection).

A fake ``urlopen`` serves bytes from memory (or refuses, as an offline machine does); the files
are small idx files, with the "full" split sizes and checksums passed in to match them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error

import numpy as np
import pytest
from torchvision.datasets import FashionMNIST as TorchvisionFashionMNIST

from cnnedu import data, download

SIZES = {"train": 6, "test": 4}


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _files(seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    files = {}
    for (images, labels), split in zip(data.SPLIT_FILES.values(), SIZES, strict=True):
        n = SIZES[split]
        files[images + ".gz"] = _idx(rng.integers(0, 256, (n, 28, 28)))
        files[labels + ".gz"] = _idx(rng.integers(0, 10, n))
    return files


FILES = _files()
RESOURCES = [(name, hashlib.md5(blob).hexdigest()) for name, blob in FILES.items()]


class _Reply(io.BytesIO):
    def __init__(self, blob: bytes):
        super().__init__(blob)
        self.headers = {"Content-Length": str(len(blob))}


def _serve(monkeypatch, blobs: dict[str, bytes] | None, calls: list | None = None):
    """Make the download module's urlopen serve ``blobs`` by file name, or fail as offline."""
    def fake_urlopen(url, timeout):
        if calls is not None:
            calls.append((url, timeout))
        if blobs is None:
            raise urllib.error.URLError("Name or service not known")
        return _Reply(blobs[url.rsplit("/", 1)[1]])
    monkeypatch.setattr(download.urllib.request, "urlopen", fake_urlopen)


def _ensure(target, folders=None):
    return download.ensure_full_data(target=target, mirrors=["http://mirror.test/"],
                                     resources=RESOURCES, timeout=3, sizes=SIZES,
                                     folders=[target] if folders is None else folders,
                                     progress=False)


def test_mirrors_and_checksums_are_torchvisions():
    assert tuple(TorchvisionFashionMNIST.mirrors) == download.MIRRORS
    assert tuple(tuple(r) for r in TorchvisionFashionMNIST.resources) == download.RESOURCES


def test_already_present_means_no_network(tmp_path, monkeypatch, capsys):
    for name, blob in FILES.items():
        (tmp_path / name).write_bytes(blob)
    calls = []
    _serve(monkeypatch, FILES, calls)
    assert _ensure(tmp_path) == 0
    assert calls == []
    assert f"found: {tmp_path}" in capsys.readouterr().out


def test_download_fills_the_folder_and_the_lookup_reads_it(tmp_path, monkeypatch):
    calls = []
    _serve(monkeypatch, FILES, calls)
    assert _ensure(tmp_path) == 0
    assert [url for url, _ in calls] == [f"http://mirror.test/{name}" for name in FILES]
    assert all(timeout == 3 for _, timeout in calls)
    images, labels, source = data.find_split("test", root=tmp_path)
    assert images.shape == (4, 28, 28) and len(labels) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)   # no .part left


def test_offline_says_what_the_learner_gets_in_two_lines(tmp_path, monkeypatch, capsys):
    _serve(monkeypatch, None)
    assert _ensure(tmp_path / "raw") == 1
    lines = capsys.readouterr().out.strip().splitlines()
    note = lines[-2:]
    assert "bundled subset" in note[0] and "accuracies are lower" in note[0]
    assert "./course.sh data" in note[1] and "dataset-fashion-mnist" in note[1]
    assert "CNNEDU_DATA" in note[1]
    assert not (tmp_path / "raw").exists() or not any((tmp_path / "raw").iterdir())


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_bad_download_is_rejected_and_the_previous_file_kept(tmp_path, monkeypatch, damage,
                                                             capsys):
    name = RESOURCES[0][0]
    previous = b"the learner's previous file"
    (tmp_path / name).write_bytes(previous)
    blob = FILES[name]
    bad = blob[: len(blob) // 2] if damage == "truncated" else blob[:-1] + bytes([blob[-1] ^ 1])
    _serve(monkeypatch, dict(FILES, **{name: bad}))
    assert _ensure(tmp_path) == 1
    assert (tmp_path / name).read_bytes() == previous
    assert [p.name for p in tmp_path.iterdir()] == [name]          # no .part file left behind
    assert "checksum" in capsys.readouterr().err


def test_the_lookup_never_downloads(tmp_path, monkeypatch):
    """Missing data in the lookup is an error naming the fix, never a network call."""
    monkeypatch.setattr(download.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("the data lookup touched the network"))
    monkeypatch.setenv("CNNEDU_DATA", str(tmp_path))
    with pytest.raises(data.DataError, match="course.sh data"):
        data.FashionMNIST("test")


def test_course_folder_is_first_default_in_the_chain(monkeypatch):
    monkeypatch.delenv("CNNEDU_DATA", raising=False)
    kinds = data.candidate_folders()
    assert kinds[0] == ("course data folder", data.COURSE_DATA_DIR)
    assert download.ensure_full_data.__defaults__[0] == data.COURSE_DATA_DIR


def test_bad_timeout_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        download.main(["--timeout", "0"])
    assert "--timeout must be positive" in capsys.readouterr().err


def test_data_note_marks_the_subset_and_names_the_fix():
    note = data.data_note("bundled")
    assert note.startswith("Data: 2,000 training + 1,000 test images, from bundled subset")
    assert "NOT the full data set" in note and "./course.sh data" in note


def test_data_note_on_full_data_has_no_warning(tmp_path, monkeypatch):
    for name, blob in FILES.items():
        (tmp_path / name).write_bytes(blob)
    monkeypatch.setattr(data.sources, "SPLIT_SIZES", SIZES)
    note = data.data_note(tmp_path)
    assert note == (f"Data: 6 training + 4 test images, from given path: {tmp_path} "
                    "(full Fashion-MNIST)")
