"""Data-parallel training with PyTorch's own engine: torchrun, ``torch.distributed``, DDP.

* :mod:`~cnnedu.distributed.worker` : one rank of a training run (gloo on CPU, NCCL on CUDA),
  rank-0 atomic checkpoints, resume, a fault switch, compute vs all-reduce timing;
* :mod:`~cnnedu.distributed.sharding` : each rank's shard of every epoch, reshuffled per epoch;
* :mod:`~cnnedu.distributed.syncbn` : synchronised BatchNorm from scratch (CPU), or PyTorch's;
* :mod:`~cnnedu.distributed.launcher` : torchrun in a subprocess, output streamed to the notebook;
  several torchrun agents on this machine acting as nodes (``launch_nodes``);
* :mod:`~cnnedu.distributed.scaling` : the step-time model (compute / N + ring all-reduce);
* ``python -m cnnedu.distributed`` : the entry point torchrun starts on every rank.
"""

from cnnedu.distributed.launcher import LaunchResult, launch, launch_nodes
from cnnedu.distributed.sharding import ShardedLoader
from cnnedu.distributed.syncbn import AllReduceSum, SyncBatchNorm2d, convert_sync_batchnorm

__all__ = ["AllReduceSum", "LaunchResult", "ShardedLoader", "SyncBatchNorm2d",
           "convert_sync_batchnorm", "launch", "launch_nodes"]
