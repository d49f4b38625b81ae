"""Lesson 06 (scale-out): averaging gradients across ranks with all-reduce.

The check needs no cluster and no network: each rank is a thread with its own model replica
and its own batch, and ``torch.distributed.all_reduce`` is replaced, for the duration of the
check, by an in-process all-reduce with the same contract (in place, ``op=ReduceOp.SUM`` by
default, every rank must call it in the same order). The reference is also tested in a real
one-process gloo group (tests/test_exercises_lessons.py).
"""

from __future__ import annotations

import copy
import threading
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn

from .functions import Case, Exercise, Mistake
from .registry import Numeric, register


def average_gradients(model: nn.Module, world_size: int) -> None:
    """After ``backward()`` on every rank: replace each gradient by its mean over the ranks."""
    for parameter in model.parameters():
        if parameter.grad is None:              # a parameter this step did not use
            continue
        dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)   # in place: the sum over ranks
        parameter.grad /= world_size


class SimulatedGroup:
    """All-reduce between threads: thread r plays rank r."""

    def __init__(self, world_size: int, timeout: float = 10.0):
        self.world_size = world_size
        self.barrier = threading.Barrier(world_size, timeout=timeout)
        self.slots: list[torch.Tensor | None] = [None] * world_size
        self.local = threading.local()
        self.result: torch.Tensor | None = None

    def all_reduce(self, tensor, op=dist.ReduceOp.SUM, group=None, async_op=False):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"all_reduce needs a tensor, got {type(tensor).__name__}")
        reducers = {dist.ReduceOp.SUM: torch.sum, dist.ReduceOp.MAX: torch.amax,
                    dist.ReduceOp.MIN: torch.amin, dist.ReduceOp.PRODUCT: torch.prod,
                    dist.ReduceOp.AVG: torch.mean}
        if op not in reducers:
            raise ValueError(f"this check's all_reduce knows SUM, AVG, MAX, MIN and PRODUCT, "
                             f"not {op}")
        rank = self.local.rank
        self.slots[rank] = tensor
        self.barrier.wait()
        if rank == 0:
            self.result = reducers[op](torch.stack([t.detach().clone() for t in self.slots]), 0)
        self.barrier.wait()
        with torch.no_grad():
            tensor.copy_(self.result)
        self.barrier.wait()
        return None

    def get_world_size(self, group=None) -> int:
        return self.world_size

    def get_rank(self, group=None) -> int:
        return self.local.rank


@contextmanager
def _patched(candidate, group: SimulatedGroup):
    """Point torch.distributed's all_reduce (and the candidate's own names for it) at ``group``."""
    replacements = {"all_reduce": group.all_reduce, "get_world_size": group.get_world_size,
                    "get_rank": group.get_rank}
    saved = {name: getattr(dist, name) for name in replacements}
    globals_ = getattr(candidate, "__globals__", {})
    saved_globals = {k: v for k, v in globals_.items()
                     if any(v is saved[name] for name in replacements)}
    try:
        for name, function in replacements.items():
            setattr(dist, name, function)
        for key, value in saved_globals.items():
            globals_[key] = next(replacements[n] for n in replacements if saved[n] is value)
        yield
    finally:
        for name, function in saved.items():
            setattr(dist, name, function)
        globals_.update(saved_globals)


def _replicas(kind: str, world_size: int) -> list[nn.Module]:
    torch.manual_seed(1)
    if kind == "linear":
        model = nn.Linear(3, 2)
    elif kind == "conv":
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    else:                                          # a head this step does not use: grad None
        model = nn.ModuleDict({"used": nn.Linear(3, 2), "unused": nn.Linear(3, 2)})
    replicas = []
    for rank in range(world_size):
        replica = copy.deepcopy(model)
        generator = torch.Generator().manual_seed(100 + rank)   # each rank its own batch
        if kind == "conv":
            out = replica(torch.randn(4, 1, 4, 4, generator=generator))
        elif kind == "linear":
            out = replica(torch.randn(4, 3, generator=generator))
        else:
            out = replica["used"](torch.randn(4, 3, generator=generator))
        (out ** 2).mean().backward()
        replicas.append(replica)
    return replicas


def _run(candidate, case: Case):
    kind, world_size = case.args
    replicas = _replicas(kind, world_size)
    group = SimulatedGroup(world_size)
    errors: list[BaseException] = []

    def rank_main(rank: int) -> None:
        group.local.rank = rank
        try:
            candidate(replicas[rank], world_size)
        except BaseException as error:  # noqa: BLE001 (reported in the main thread)
            errors.append(error)
            group.barrier.abort()

    with _patched(candidate, group):
        threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(world_size)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real or errors:
        raise (real or errors)[0]
    names = [name for name, _ in replicas[0].named_parameters()]
    grads = []
    for index, _ in enumerate(names):
        per_rank = [list(r.parameters())[index].grad for r in replicas]
        grads.append(None if per_rank[0] is None else torch.stack(per_rank))
    return tuple(grads)


def _cases() -> list[Case]:
    return [Case("nn.Linear(3, 2), world_size=2 (2 ranks, each its own batch)", ("linear", 2)),
            Case("a small conv net, world_size=3", ("conv", 3)),
            Case("nn.Linear(3, 2), world_size=1", ("linear", 1)),
            Case("a model with a head this step did not use (its grads are None), world_size=2",
                 ("unused", 2))]


def _sum_only(model, world_size):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)


def _no_op(model, world_size):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad.clone())


def _divide_twice(model, world_size):
    for p in model.parameters():
        if p.grad is not None:
            p.grad /= world_size
            dist.all_reduce(p.grad)
            p.grad /= world_size


register(
    Exercise(
        id="06.1", name="average_gradients", reference=average_gradients,
        against="the mean of the ranks' gradients", cases=_cases, run=_run,
        output_names=tuple(f"parameter {i}, rank and index " for i in range(8)),
        explanation="all_reduce with ReduceOp.SUM replaces the tensor on every rank, in place, "
                    "by the sum over all ranks; dividing by world_size makes it the mean, so "
                    "every replica takes the same step, as one model would on the whole batch. "
                    "Parameters without a gradient are skipped.",
        mistakes=[
            Mistake("all_reduce sums over the ranks: divide by world_size to get the mean.",
                    _sum_only),
            Mistake("all_reduce works in place on the tensor you give it: pass p.grad itself "
                    "(not a copy, not p.data), and keep no other copy.", _no_op),
            Mistake("divide by world_size once: before or after the all-reduce, not both.",
                    _divide_twice),
        ],
        more="after your function every rank must hold the same gradients: their mean. Loop over "
             "model.parameters() and skip those whose .grad is None.",
    ),
    Numeric("06.2", "answer_1 = 311016",
            "The lesson's ResNet has 77,754 parameters, each with one float32 gradient of 4 "
            "bytes: 77,754 * 4 = 311,016 bytes all-reduced per step."),
    Numeric("06.3", "answer_2 = (1024, 1.6)",
            "8 workers x 128 images = a global batch of 1,024, 8 times the original; the linear "
            "scaling rule multiplies the learning rate by the same 8: 0.2 * 8 = 1.6."),
)
