"""Make the balanced Fashion-MNIST subset that ships inside cnnedu (run once; the output is committed).

    python scripts/make_data_bundle.py [FOLDER_WITH_IDX_FILES]

Takes 200 training and 100 test images of each class, chosen at random with a fixed seed
from the real files, and writes them as compressed uint8 arrays to
cnnedu/data_bundle/fashion_mnist_subset.npz.
Fashion-MNIST is (c) Zalando SE, MIT licence (https://github.com/zalandoresearch/fashion-mnist).
"""

import sys
from pathlib import Path

import numpy as np
import torch

from cnnedu.data import BUNDLE_PATH, DEBIAN_DIR, _load_folder, balanced_indices

SIZES = {"train": 2000, "test": 1000}


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEBIAN_DIR
    arrays = {}
    for split, count in SIZES.items():
        images, labels = _load_folder(folder, split)
        keep = balanced_indices(torch.from_numpy(labels.astype(np.int64)), count, seed=2012).numpy()
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images[keep], labels[keep]
        print(split, np.bincount(labels[keep]))
    BUNDLE_PATH.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(BUNDLE_PATH, **arrays)
    print(f"wrote {BUNDLE_PATH} ({BUNDLE_PATH.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
