"""Train the same small net twice, once on PyTorch's layers and once on the hand-differentiated
ones, from the same weights on the same batches, and record both runs' losses and times.

The net (28x28 inputs): conv 3x3 (8) - BN - ReLU - max pool 2 - conv 3x3 (16) - BN - ReLU -
max pool 2 - linear (784 -> 10). ``hand`` names which kinds of layer use the hand-written
backward: any of ``HAND_KINDS``; the others are PyTorch's own layers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .layers import HandBatchNorm2d, HandConv2d, HandLinear, HandMaxPool2d, HandReLU, hand_cross_entropy

HAND_KINDS = ("conv", "pool", "bn", "relu", "linear", "loss")


def small_net(hand: Iterable[str] = ()) -> nn.Sequential:
    """The side-by-side net; layers of the kinds in ``hand`` have hand-written backward passes."""
    hand = set(hand)
    unknown = hand - set(HAND_KINDS)
    if unknown:
        raise ValueError(f"hand must name kinds among {HAND_KINDS}, got {sorted(unknown)}")
    conv = HandConv2d if "conv" in hand else nn.Conv2d
    bn = HandBatchNorm2d if "bn" in hand else nn.BatchNorm2d
    relu = HandReLU if "relu" in hand else nn.ReLU
    pool = HandMaxPool2d if "pool" in hand else nn.MaxPool2d
    linear = HandLinear if "linear" in hand else nn.Linear
    return nn.Sequential(conv(1, 8, 3, padding=1), bn(8), relu(), pool(2),
                         conv(8, 16, 3, padding=1), bn(16), relu(), pool(2),
                         nn.Flatten(), linear(16 * 7 * 7, 10))


@dataclass
class Run:
    """One net's training: the loss of every step and the seconds spent in its steps."""

    name: str
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    net: nn.Module | None = field(default=None, repr=False)   # the trained net, after the run


def train_side_by_side(batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                       hand: Iterable[str] = HAND_KINDS, steps: int | None = None,
                       lr: float = 0.05, seed: int = 0,
                       dtype: torch.dtype = torch.float32) -> tuple[Run, Run]:
    """Train ``small_net()`` and ``small_net(hand)`` from the same weights on the same batches.

    SGD with momentum 0.9. Each step runs both nets on one batch; only each net's own step is
    timed. Returns (autograd run, hand run), each holding its trained net; ``steps`` caps the
    number of batches.
    """
    hand = tuple(hand)
    torch.manual_seed(seed)
    reference = small_net().to(dtype)
    mine = small_net(hand).to(dtype)
    mine.load_state_dict(reference.state_dict())
    loss_fn = hand_cross_entropy if "loss" in hand else F.cross_entropy
    runs = (Run("autograd"), Run("hand-written: " + ", ".join(hand)))
    nets = ((reference, F.cross_entropy), (mine, loss_fn))
    optimizers = [torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9) for net, _ in nets]
    for step, (x, y) in enumerate(batches):
        if steps is not None and step >= steps:
            break
        x = x.to(dtype)
        for run, (net, loss_of), optimizer in zip(runs, nets, optimizers, strict=True):
            start = time.perf_counter()
            loss = loss_of(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.seconds += time.perf_counter() - start
            run.losses.append(loss.item())
    for run, (net, _) in zip(runs, nets, strict=True):
        run.net = net
    return runs


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of ``x`` classified as ``y`` by ``net`` in eval mode."""
    net.eval()
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()
