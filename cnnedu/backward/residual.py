"""A residual block's input gradient, split into the part through the shortcut and the part
through the branch.

For ``z = F(x) + x`` (then ``y = relu(z)``), the chain rule gives
``dL/dx = dL/dz · (1 + dF/dx) = dL/dz + dL/dz · dF/dx``: the shortcut hands ``dL/dz`` to the
block's input unchanged, and the branch adds its own term. (A 1x1 projection shortcut replaces
the 1 by its own Jacobian.) :func:`block_gradient_split` measures both terms' norms for every
block of a :class:`~cnnedu.models.resnet.ResNetMini` on one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnnedu.models.resnet import ResNetMini


@dataclass(frozen=True)
class BlockGradient:
    """Norms of one block's gradients: ``at_sum`` = ||dL/dz||, ``shortcut`` and ``branch`` the
    norms of the two terms of dL/dx, ``total`` = ||dL/dx||; ``projection`` marks a 1x1 shortcut."""

    name: str
    at_sum: float
    shortcut: float
    branch: float
    total: float
    projection: bool


def block_gradient_split(model: ResNetMini, x: torch.Tensor, y: torch.Tensor) -> list[BlockGradient]:
    """Run ``model`` (a ResNetMini, in training mode) on (x, y) with the cross-entropy loss and
    return, block by block from the input side, the norms of dL/dx's two terms. A plain net
    (``residual=False``) has no shortcut: its shortcut term is 0 and dL/dx is the branch's."""
    model.train()
    h = F.relu(model.bn1(model.conv1(x)))
    records = []
    for stage in ("layer1", "layer2", "layer3"):
        for index, block in enumerate(getattr(model, stage)):
            branch = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(h)))))
            short = (block.downsample(h) if block.downsample is not None
                     else h if model.residual else torch.zeros_like(branch))
            z = branch + short
            records.append((f"{stage}.{index}", h, branch, short, z, block.downsample is not None))
            h = F.relu(z)
    loss = F.cross_entropy(model.fc(torch.flatten(model.avgpool(h), 1)), y)
    sums = torch.autograd.grad(loss, [r[4] for r in records], retain_graph=True)
    result = []
    for (name, inp, branch, short, _, projection), g_z in zip(records, sums, strict=True):
        via_short = (torch.autograd.grad(short, inp, g_z, retain_graph=True)[0] if projection
                     else g_z if model.residual else torch.zeros_like(inp))
        via_branch = torch.autograd.grad(branch, inp, g_z, retain_graph=True)[0]
        result.append(BlockGradient(name, g_z.norm().item(), via_short.norm().item(),
                                    via_branch.norm().item(), (via_short + via_branch).norm().item(),
                                    projection))
    return result
