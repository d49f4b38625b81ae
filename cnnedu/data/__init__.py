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

One job per module: :mod:`~cnnedu.data.idx` (the file format), :mod:`~cnnedu.data.sources`
(the lookup above and the banner), :mod:`~cnnedu.data.dataset` (the in-memory split) and
:mod:`~cnnedu.data.loader` (the batches). Lessons import everything from ``cnnedu.data``.
"""

from cnnedu.data.dataset import CLASS_NAMES, MEAN, STD, FashionMNIST, balanced_indices, normalize
from cnnedu.data.idx import DataError, read_idx
from cnnedu.data.loader import BatchLoader
from cnnedu.data.sources import (
    BUNDLE_PATH,
    COURSE_DATA_DIR,
    DEBIAN_DIR,
    SPLIT_FILES,
    SPLIT_SIZES,
    DataSource,
    _load_folder,
    candidate_folders,
    data_note,
    find_split,
    load_bundle,
)

__all__ = ["BUNDLE_PATH", "CLASS_NAMES", "COURSE_DATA_DIR", "DEBIAN_DIR", "MEAN", "SPLIT_FILES",
           "SPLIT_SIZES", "STD", "BatchLoader", "DataError", "DataSource", "FashionMNIST",
           "_load_folder", "balanced_indices", "candidate_folders", "data_note", "find_split",
           "load_bundle", "normalize", "read_idx"]
