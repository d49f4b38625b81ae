"""Fetch full Fashion-MNIST once, at setup, so the lessons train on the real 70,000 images.

    python -m cnnedu.download          # what ./course.sh data (and ./course.sh setup) runs

If the lookup chain of :mod:`cnnedu.data` already finds both full splits, nothing happens.
Otherwise the four files are fetched from torchvision's own mirrors into the folder the chain
reads first by default (``data/FashionMNIST/raw`` of this course), with a progress bar and
torchvision's MD5 checksums. Each file is written to a hidden ``.part`` file beside its target
and renamed into place only once its checksum matches, so a cut or corrupt download never
replaces what was there and is never picked up by the lookup. The connection timeout is a few
seconds: an offline machine gets two lines saying what it will use instead, not a wait.

This is the only code in the course that touches the network; notebooks never call it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from cnnedu import data

# torchvision.datasets.FashionMNIST.mirrors / .resources (copied so that importing this module
# stays cheap; tests/test_download.py checks they still agree with torchvision's).
MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
RESOURCES = (
    ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
)
TIMEOUT_S = 5.0
OFFLINE_NOTE = (
    "Full Fashion-MNIST not found and not downloadable now ({reason}): the lessons will use the "
    "bundled subset (2,000 + 1,000 images); they run, but accuracies are lower than the text.\n"
    "For the full data: rerun `./course.sh data` when online, or `sudo apt-get install "
    "dataset-fashion-mnist`, or put the four files in {target} (or set CNNEDU_DATA to their folder)."
)


class DownloadError(RuntimeError):
    """A download failed or its checksum did not match; nothing was replaced."""


class Offline(DownloadError):
    """No mirror answered within the timeout."""


def find_full_data(folders: Sequence[Path] | None = None,
                   sizes: dict[str, int] | None = None) -> Path | None:
    """The first folder of the default lookup chain holding both full splits, readable; else None.

    ``CNNEDU_DATA`` is left out on purpose: setup asks whether the course's own chain has the
    data, whatever a learner's shell sets for one run (``CNNEDU_DATA=bundled`` included).
    """
    if folders is None:
        folders = [folder for kind, folder in data.candidate_folders()
                   if kind not in ("given path", "CNNEDU_DATA")]
    sizes = sizes or data.SPLIT_SIZES
    for folder in folders:
        try:
            if all(len(data._load_folder(folder, split)[1]) == sizes[split] for split in sizes):
                return folder
        except data.DataError:
            continue   # missing, partial or broken: not a source of full data
    return None


def fetch_file(name: str, md5: str, target: Path, mirrors: Sequence[str] = MIRRORS,
               timeout: float = TIMEOUT_S, progress: bool = True) -> Path:
    """Download ``name`` into ``target``, checked against ``md5``; atomic (rename on success).

    Raises :class:`Offline` when no mirror answers, :class:`DownloadError` when the data is
    cut short or its checksum differs; in both cases ``target`` is left as it was.
    """
    from tqdm.auto import tqdm

    target.mkdir(parents=True, exist_ok=True)
    reasons = []
    for mirror in mirrors:
        url = mirror + name
        try:
            reply = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - fixed http(s) mirrors
        except (urllib.error.URLError, OSError) as err:
            reasons.append(f"{url}: {getattr(err, 'reason', err)}")
            continue
        handle, part = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target)
        digest = hashlib.md5()  # noqa: S324 - torchvision publishes MD5s; integrity, not security
        try:
            with reply, os.fdopen(handle, "wb") as out, tqdm(
                    total=int(reply.headers.get("Content-Length") or 0) or None, unit="B",
                    unit_scale=True, desc=name, disable=not progress, leave=True) as bar:
                while chunk := reply.read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            if digest.hexdigest() != md5:
                raise DownloadError(f"{url}: checksum {digest.hexdigest()} is not torchvision's "
                                    f"{md5} (cut short or corrupt); nothing was replaced")
            os.replace(part, target / name)
            return target / name
        except (OSError, urllib.error.URLError) as err:
            raise DownloadError(f"{url}: download broke off ({err}); nothing was replaced") from err
        finally:
            if os.path.exists(part):
                os.unlink(part)
    raise Offline("; ".join(reasons))


def ensure_full_data(target: Path = data.COURSE_DATA_DIR, mirrors: Sequence[str] = MIRRORS,
                     resources: Sequence[tuple[str, str]] = RESOURCES,
                     timeout: float = TIMEOUT_S, folders: Sequence[Path] | None = None,
                     sizes: dict[str, int] | None = None, progress: bool = True) -> int:
    """Make sure full Fashion-MNIST is found; print what happened. 0: full data, 1: not."""
    found = find_full_data(folders, sizes)
    if found is not None:
        print(f"Full Fashion-MNIST found: {found}")
        return 0
    print(f"Fetching Fashion-MNIST (30 MB) from torchvision's mirror into {target} ...")
    try:
        for name, md5 in resources:
            fetch_file(name, md5, target, mirrors, timeout, progress)
    except Offline as err:
        print(OFFLINE_NOTE.format(reason=f"no answer within {timeout:g} s: {err}", target=target))
        return 1
    except DownloadError as err:
        print(f"Download failed: {err}", file=sys.stderr)
        print(OFFLINE_NOTE.format(reason="download failed", target=target))
        return 1
    found = find_full_data([target], sizes)
    if found is None:
        print(f"Downloaded into {target}, but the files do not read as full Fashion-MNIST.",
              file=sys.stderr)
        return 1
    print(f"Full Fashion-MNIST ready: {found}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S,
                        help="seconds to wait for the mirror to answer (default %(default)s)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive, got {args.timeout}")
    return ensure_full_data(timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
