"""A quick first look at an occlusion map, for explorers that must answer within 30 ms.

Occlusion costs one forward pass per patch position: 169 passes for a 4-pixel patch at stride 2
on a 28x28 image, 784 at patch 1 and stride 1 (about 140 ms and more on a 2-core CPU). An
explorer that waits for all of them is slow to answer a slider. :func:`occlusion_preview` runs
the occluded forwards on an evenly spread subset of the patch positions only (at most
``max_passes``), gives every other position the logit drop of its nearest computed neighbour
(in grid steps, rows and columns apart), and then averages over the covering patches exactly as
:func:`cnnedu.attribution.occlusion_all_targets` does (the same ``maps_from_drops``). With
enough passes for every position it *is* that map (a test checks it against Captum's). The
explorer draws the preview first, says so, and replaces it with the exact map in the same update.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnedu.attribution import maps_from_drops, one_image_grid, patch_masks


def sub_grid(count: int, step: int) -> list[int]:
    """Every ``step``-th of ``count`` grid indices, always with the first and the last."""
    chosen = list(range(0, count, step))
    if chosen[-1] != count - 1:
        chosen.append(count - 1)
    return chosen


def nearest(index: int, chosen: list[int]) -> int:
    """Position in ``chosen`` of the grid index nearest to ``index`` (the lower one on a tie)."""
    return min(range(len(chosen)), key=lambda k: (abs(chosen[k] - index), chosen[k]))


def preview_step(rows: int, cols: int, max_passes: int) -> int:
    """The smallest grid step whose sub-grid of a ``rows`` x ``cols`` grid needs at most
    ``max_passes`` forward passes (1 when the whole grid fits)."""
    if max_passes < 4:
        raise ValueError(f"max_passes must be at least 4 (the grid's corners), got {max_passes}")
    step = 1
    while len(sub_grid(rows, step)) * len(sub_grid(cols, step)) > max_passes:
        step += 1
    return step


@torch.no_grad()
def occlusion_preview(model: nn.Module, x: torch.Tensor, patch: int = 4, stride: int = 2,
                      max_passes: int = 16,
                      baseline: float = 0.0) -> tuple[torch.Tensor, int, int]:
    """Occlusion maps of one image ``x`` (1, C, H, W) for every class, (classes, C, H, W), from at
    most ``max_passes`` occluded forwards; also how many were run and how many the exact map
    needs. Equal to ``occlusion_all_targets`` when ``max_passes`` covers every position."""
    rows, cols = one_image_grid(x, patch, stride)
    step = preview_step(len(rows), len(cols), max_passes)
    sub_r, sub_c = sub_grid(len(rows), step), sub_grid(len(cols), step)
    masks = patch_masks(x, [rows[i] for i in sub_r], [cols[j] for j in sub_c], patch)
    computed = model(x) - model(x * (1 - masks) + baseline * masks)       # (r*c, classes)
    computed = computed.view(len(sub_r), len(sub_c), -1)
    near_r = [nearest(i, sub_r) for i in range(len(rows))]
    near_c = [nearest(j, sub_c) for j in range(len(cols))]
    drop = computed[near_r][:, near_c].flatten(0, 1)                        # (R*C, classes)
    all_masks = patch_masks(x, rows, cols, patch)                          # (R*C, 1, H, W)
    return maps_from_drops(drop, all_masks, x.shape[1]), len(masks), len(all_masks)
