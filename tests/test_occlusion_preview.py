"""The occlusion preview: its sub-grid by hand, the exact map (Captum's) when every position fits
in the budget, and a linear model's preview computed by hand with explicit loops."""

import pytest
import torch
from captum.attr import Occlusion
from torch import nn

from cnnedu.models.resnet import resnet_mini
from cnnedu.occlusion_preview import nearest, occlusion_preview, preview_step, sub_grid


def test_sub_grid_keeps_every_step_and_the_last():
    assert sub_grid(13, 4) == [0, 4, 8, 12]
    assert sub_grid(13, 5) == [0, 5, 10, 12]
    assert sub_grid(1, 3) == [0]
    assert sub_grid(5, 1) == [0, 1, 2, 3, 4]


def test_nearest_takes_the_lower_on_a_tie():
    assert nearest(2, [0, 4, 8]) == 0
    assert nearest(3, [0, 4, 8]) == 1
    assert nearest(12, [0, 4, 8]) == 2


def test_preview_step_is_the_smallest_that_fits():
    # 13 x 13 positions (patch 4, stride 2 on 28 pixels): steps 1, 2, 3 need 169, 49, 25 passes
    assert preview_step(13, 13, 16) == 4
    assert preview_step(13, 13, 25) == 3
    assert preview_step(13, 13, 169) == 1
    with pytest.raises(ValueError, match="at least 4"):
        preview_step(13, 13, 3)


def test_with_room_for_every_position_it_is_captums_occlusion():
    torch.manual_seed(0)
    model = resnet_mini(depth=8, width=4).eval()
    x = torch.randn(1, 1, 28, 28)
    maps, ran, needed = occlusion_preview(model, x, patch=5, stride=4, max_passes=1000)
    assert ran == needed == 49
    for target in (0, 7):
        truth = Occlusion(model).attribute(x, sliding_window_shapes=(1, 5, 5), strides=(1, 4, 4),
                                           target=target)
        torch.testing.assert_close(maps[target:target + 1], truth, rtol=1e-4, atol=1e-6)


def test_a_linear_models_preview_by_hand():
    # logits_k = sum(W_k * x): occluding a patch drops class k by sum over the patch of W_k * x
    torch.manual_seed(1)
    side, patch, stride, classes = 9, 3, 2, 2
    linear = nn.Sequential(nn.Flatten(), nn.Linear(side * side, classes, bias=False)).eval()
    x = torch.randn(1, 1, side, side)
    maps, ran, needed = occlusion_preview(linear, x, patch, stride, max_passes=4)
    starts = [0, 2, 4, 6]                          # ceil((9 - 3) / 2) + 1 = 4 positions a side
    computed = [0, 3]                              # step 3: first and last only (2 x 2 = 4)
    assert (ran, needed) == (4, 16)
    w = linear[1].weight.detach().view(classes, side, side)
    for k in range(classes):
        def drop(r, c, k=k):
            return float((w[k] * x[0, 0])[r:r + patch, c:c + patch].sum())
        for i in range(side):
            for j in range(side):
                values = []
                for a, r in enumerate(starts):
                    for b, c in enumerate(starts):
                        if r <= i < r + patch and c <= j < c + patch:
                            near_a = min(computed, key=lambda s: (abs(s - a), s))
                            near_b = min(computed, key=lambda s: (abs(s - b), s))
                            values.append(drop(starts[near_a], starts[near_b]))
                expected = sum(values) / len(values)
                assert float(maps[k, 0, i, j]) == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_one_image_only():
    with pytest.raises(ValueError, match="one image"):
        occlusion_preview(nn.Identity(), torch.zeros(2, 1, 8, 8))
