"""One rank of a data-parallel training run: what ``torchrun ... -m cnnedu.distributed train`` runs.

Every rank runs this same code (SPMD). torchrun tells each process who it is through environment
variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``);
:func:`~cnnedu.distributed.group.setup` joins the process group: gloo on a CPU, NCCL on CUDA
with one GPU per local rank.

:func:`train` builds the model (same seed on every rank; DDP also broadcasts rank 0's weights),
wraps it in ``DistributedDataParallel`` (which all-reduces the gradients during backward), feeds
each rank its own shard (:class:`~cnnedu.distributed.sharding.ShardedLoader`), writes
checkpoints from rank 0 only, atomically, and resumes from one when it exists. With one process
and no process group the same function trains plainly: the reference the lesson compares with.

The fault switch ``CNNEDU_FAULT_STEP=k`` (with ``CNNEDU_FAULT_RANK``, default 1) makes that rank
exit with status 1 just before step k, but only in torchrun's first attempt
(``TORCHELASTIC_RESTART_COUNT=0``): the restarted workers run through.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from cnnedu import config
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.device import synchronize
from cnnedu.distributed.commhook import CommTimer, timed_allreduce_hook
from cnnedu.distributed.group import Context, setup, teardown, threads_per_process  # noqa: F401
from cnnedu.distributed.results import max_state_diff, read_result, write_result  # noqa: F401
from cnnedu.distributed.say import say
from cnnedu.distributed.sharding import ShardedLoader
from cnnedu.distributed.syncbn import convert_sync_batchnorm
from cnnedu.models.resnet import resnet_mini
from cnnedu.recipes import Recipe, get_recipe
from cnnedu.train import (
    evaluate,
    load_checkpoint,
    make_optimizer,
    make_scheduler,
    save_checkpoint,
    train_one_epoch,
)
from cnnedu.train.precision import check_precision

MODELS = ("resnet", "resnet-nobn")


_RECIPE = get_recipe("resnet")


@dataclass
class TrainConfig:
    """Everything a run needs. The training settings default to the lesson's ResNet recipe and
    are read from it, not retyped; :meth:`recipe` turns them back into one :class:`Recipe`,
    the object the training code reads (as ``fit`` and the experiments do)."""

    model: str = "resnet"
    epochs: int = 1
    global_batch: int = _RECIPE.batch_size
    lr: float = _RECIPE.lr
    optimizer: str = _RECIPE.optimizer
    weight_decay: float = _RECIPE.weight_decay
    label_smoothing: float = _RECIPE.label_smoothing
    scheduler: str | None = _RECIPE.scheduler
    max_steps_per_epoch: int | None = None
    train_limit: int | None = None
    augment: bool = _RECIPE.augment
    sync_bn: bool = False
    seed: int = 0
    checkpoint: str | None = None
    checkpoint_every: int = 0
    out: str | None = None
    evaluate: bool = False
    log_every: int = 10
    float64: bool = False
    # fp32 by default, whatever the recipe says: lesson 06 compares runs to ~1e-8, and bf16
    # rounding differs with the per-rank batch shape; ``--precision bf16`` opts in
    precision: str = "fp32"

    def check(self) -> None:
        check_precision(self.precision)
        if self.float64 and self.precision != "fp32":
            raise ValueError(f"float64=True trains in double precision; it excludes "
                             f"precision={self.precision!r} (use precision='fp32' with it)")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        for name in ("epochs", "global_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")

    def recipe(self) -> Recipe:
        """The lesson's ResNet recipe with this run's settings (global batch as batch size)."""
        return replace(_RECIPE, build=partial(build_model, self.model), epochs=self.epochs,
                       batch_size=self.global_batch, lr=self.lr, optimizer=self.optimizer,
                       weight_decay=self.weight_decay, label_smoothing=self.label_smoothing,
                       scheduler=self.scheduler, augment=self.augment,
                       precision=self.precision)


def build_model(name: str) -> nn.Module:
    """The lesson's ResNet recipe model, or the same network without BatchNorm."""
    if name == "resnet":
        return get_recipe("resnet").build()
    return resnet_mini(depth=8, width=16, batchnorm=False)


def _fault_switch(ctx: Context, step: int) -> None:
    at = os.environ.get("CNNEDU_FAULT_STEP")
    if not at or os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") != "0":
        return
    if step == int(at) and ctx.rank == int(os.environ.get("CNNEDU_FAULT_RANK", "1")):
        say(f"[rank {ctx.rank}] fault switch: exiting at step {step}")
        os._exit(1)


def _log(ctx: Context, message: str) -> None:
    if ctx.rank == 0:
        say(message)


def train(cfg: TrainConfig, ctx: Context | None = None) -> dict:
    """Train per ``cfg`` on this rank; return (and with ``cfg.out``, write) what happened.

    The settings come from ``cfg.recipe()`` and the steps from :func:`cnnedu.train.train_one_epoch`
    (the loop ``fit`` uses), with hooks around each step for timing, logging, checkpoints and
    the fault switch. The result holds per-step wall time, all-reduce time, loss, the final
    state dict of the model (``state``, weights and BatchNorm buffers) and, with
    ``cfg.evaluate``, test accuracy.
    """
    cfg.check()
    ctx = ctx or Context()
    if cfg.global_batch % ctx.world_size:
        raise ValueError(f"global_batch {cfg.global_batch} is not divisible by the world size "
                         f"{ctx.world_size}")
    config.seed_everything(cfg.seed)
    recipe = cfg.recipe()
    model = recipe.build()
    if cfg.sync_bn:
        model = convert_sync_batchnorm(model, ctx.device)
    dtype = torch.float64 if cfg.float64 else torch.float32
    model = model.to(ctx.device, dtype, memory_format=torch.channels_last)
    dataset = FashionMNIST("train", limit=cfg.train_limit)
    loader = ShardedLoader(dataset, recipe.batch_size // ctx.world_size, ctx.rank, ctx.world_size,
                           augment=recipe.augment, shift=recipe.shift, device=ctx.device,
                           channels_last=True, seed=cfg.seed)
    steps_per_epoch = len(loader) if cfg.max_steps_per_epoch is None else min(
        len(loader), cfg.max_steps_per_epoch)
    total_steps = steps_per_epoch * recipe.epochs
    optimizer = make_optimizer(recipe.optimizer, model.parameters(), recipe.lr,
                               recipe.weight_decay)
    scheduler = make_scheduler(recipe.scheduler, optimizer, total_steps)
    done = 0
    if cfg.checkpoint and Path(cfg.checkpoint).is_file():
        extra = load_checkpoint(cfg.checkpoint, model, optimizer, map_location=ctx.device)
        if scheduler is not None:
            scheduler.load_state_dict(extra["scheduler"])
        torch.set_rng_state(extra["rng"])
        done = int(extra["step"])
        _log(ctx, f"resumed from {cfg.checkpoint} at step {done} (epoch {done // steps_per_epoch})")
    timer = None
    net: nn.Module = model
    if ctx.distributed:
        cuda = ctx.device.type == "cuda"  # pragma: no mutate (CUDA only: False on a CPU)
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.local_rank] if cuda else None)  # pragma: no mutate (CUDA only)
        timer = CommTimer(ctx.world_size, cuda)
        net.register_comm_hook(timer, timed_allreduce_hook)
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    _log(ctx, f"world size {ctx.world_size}, backend "
              f"{dist.get_backend() if ctx.distributed else 'none'}, device {ctx.device}, "
              f"{torch.get_num_threads()} thread(s) per process, {steps_per_epoch} steps/epoch "
              f"of {recipe.batch_size // ctx.world_size} images per rank")
    step_seconds, comm_seconds, losses = [], [], []
    clock = {"start": 0.0, "comm": 0.0, "base": 0}   # base: global step of the pass's step 0

    def before_step(i: int) -> None:
        _fault_switch(ctx, clock["base"] + i)
        synchronize(ctx.device)
        clock["comm"], clock["start"] = (timer.seconds if timer else 0.0), time.perf_counter()

    def after_step(i: int, loss: float) -> None:
        synchronize(ctx.device)
        step_seconds.append(time.perf_counter() - clock["start"])
        comm_seconds.append((timer.seconds if timer else 0.0) - clock["comm"])
        losses.append(loss)
        _after_step(cfg, ctx, clock["base"] + i + 1, total_steps, model, optimizer, scheduler,
                    loss, step_seconds[-1], comm_seconds[-1])

    for epoch in range(done // steps_per_epoch, recipe.epochs):
        loader.set_epoch(epoch)
        first = done % steps_per_epoch if epoch == done // steps_per_epoch else 0
        clock["base"] = epoch * steps_per_epoch + first
        batches = ((x.to(dtype), y) for x, y in loader.batches(first))
        train_one_epoch(net, batches, optimizer, criterion, ctx.device, scheduler=scheduler,
                        max_batches=steps_per_epoch - first, before_step=before_step,
                        after_step=after_step, precision=recipe.precision)
    result = {
        "config": asdict(cfg), "rank": ctx.rank, "world_size": ctx.world_size,
        "threads": torch.get_num_threads(), "device": str(ctx.device),
        "step_seconds": step_seconds, "comm_seconds": comm_seconds, "losses": losses,
        "grad_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "restart_count": int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")),
    }
    if cfg.evaluate and ctx.rank == 0:
        test = BatchLoader(FashionMNIST("test"), 1024, device=ctx.device, channels_last=True)
        result["test_loss"], result["test_acc"] = evaluate(model, test, ctx.device,
                                                           precision=recipe.precision)
    result["state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if cfg.out and ctx.rank == 0:
        write_result(cfg.out, result)
    return result


def _after_step(cfg: TrainConfig, ctx: Context, done: int, total_steps: int, model: nn.Module,
                optimizer: torch.optim.Optimizer, scheduler, loss: float, seconds: float,
                comm: float) -> None:
    """Log every ``cfg.log_every`` steps; checkpoint (rank 0, atomically) every
    ``cfg.checkpoint_every`` steps, with a barrier so no rank runs ahead of the file."""
    if cfg.log_every and (done % cfg.log_every == 0 or done == total_steps):
        _log(ctx, f"step {done}/{total_steps} loss {loss:.4f} ({seconds * 1000:.0f} ms, "
                  f"all-reduce {comm * 1000:.0f} ms)")
    if cfg.checkpoint and cfg.checkpoint_every and done % cfg.checkpoint_every == 0:
        if ctx.rank == 0:
            save_checkpoint(cfg.checkpoint, model, optimizer, step=done,
                            scheduler=scheduler.state_dict() if scheduler else None,
                            rng=torch.get_rng_state(), world_size=ctx.world_size)
            say(f"checkpoint at step {done} -> {cfg.checkpoint}")
        if ctx.distributed:
            dist.barrier()   # nobody runs ahead (or dies) before the file is on disk
