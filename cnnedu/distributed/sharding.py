"""Each rank's own shard of every epoch, reshuffled per epoch: PyTorch's ``DistributedSampler``.

``ShardedLoader`` is :class:`cnnedu.data.BatchLoader` (its batching, augmentation and layout)
with the sample indices of ``torch.utils.data.DistributedSampler``:

* the epoch's order is one permutation, the same on every rank (seeded by ``seed + epoch``,
  so :meth:`set_epoch` reshuffles and a restarted run gets the same order again);
* rank ``r`` of ``world_size`` takes positions ``r, r + world_size, r + 2 * world_size, ...``
  of that order (interleaved), in batches of ``batch_size``.

Interleaving has a property the lesson relies on: batch ``b`` of all ranks together holds exactly
the samples of batch ``b`` of one process with ``batch_size * world_size`` (only their order
inside the batch differs), so N processes can be checked against one process step by step.
The tail that does not fill a whole global batch is dropped, so every rank takes the same
number of steps (a rank with one step more would wait for ever in its all-reduce).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DistributedSampler

from cnnedu.data import BatchLoader, FashionMNIST


class ShardedLoader(BatchLoader):
    """Batches of ``batch_size`` (per rank) from rank ``rank``'s shard of the epoch's order."""

    def __init__(self, dataset: FashionMNIST, batch_size: int, rank: int = 0,
                 world_size: int = 1, shuffle: bool = True, augment: bool = False,
                 shift: int = 0, device: torch.device | str = "cpu",
                 channels_last: bool = False, seed: int = 0):
        if not isinstance(world_size, int) or world_size < 1:
            raise ValueError(f"world_size must be an int >= 1, got {world_size!r}")
        if not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank!r}")
        super().__init__(dataset, batch_size, shuffle=shuffle, augment=augment, shift=shift,
                         device=device, channels_last=channels_last, drop_last=True, seed=seed)
        self.rank, self.world_size, self.seed, self.epoch = rank, world_size, seed, 0
        if len(self) == 0:
            raise ValueError(f"{len(dataset)} samples do not fill one global batch of "
                             f"{batch_size} x {world_size} = {batch_size * world_size}")

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration uses (call it before every epoch)."""
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self._labels) // (self.batch_size * self.world_size)

    def indices(self) -> torch.Tensor:
        """This rank's sample indices for the current epoch, in order (``len(self)`` batches)."""
        sampler = DistributedSampler(range(len(self._labels)), num_replicas=self.world_size,
                                     rank=self.rank, shuffle=self.shuffle, seed=self.seed,
                                     drop_last=True)
        sampler.set_epoch(self.epoch)
        # interleaved, so its first len(self) * batch_size are the whole global batches' share
        return torch.tensor(list(sampler), dtype=torch.long)[:len(self) * self.batch_size]

    def batches(self, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches from batch ``start`` on (a resumed run skips what it had done).

        Augmentation draws from a generator seeded per (seed, epoch, batch, rank), so batch
        ``b`` is the same whether or not the batches before it were produced in this process.
        """
        index_all = self.indices().to(self.device)
        for b in range(start, len(self)):
            if self.augment:
                self.generator.manual_seed(
                    hash((self.seed, self.epoch, b, self.rank)) & 0x7FFF_FFFF_FFFF)
            yield self._batch(index_all[b * self.batch_size:(b + 1) * self.batch_size])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.batches(0)
