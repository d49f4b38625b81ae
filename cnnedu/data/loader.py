"""Training batches straight from the in-memory tensors, with cheap augmentation."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from cnnedu.data.dataset import FashionMNIST, normalize


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
