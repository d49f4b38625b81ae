"""Lesson 08's blocks equal torchvision's and F.conv2d; their costs match the formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn
from torchvision.models.convnext import CNBlock
from torchvision.ops import SqueezeExcitation as TvSE

from cnnedu.exercises.lesson04 import randomise
from cnnedu.layer_table import count_params, layer_table, total_flops
from cnnedu.models.convnext_path import PATH, DesignBlock, to_torchvision_cnblock
from cnnedu.models.efficient import (
    ConvNeXtBlock,
    InvertedResidual,
    SqueezeExcitation,
    depthwise_conv2d,
    depthwise_separable,
    grouped_conv2d,
)
from cnnedu.models.efficient_small import SmallConvNeXt, SmallMobileNet


@pytest.mark.parametrize("c, k, stride, padding, size", [(3, 3, 1, 1, 9), (8, 7, 1, 3, 12),
                                                          (5, 3, 2, 0, 10), (1, 1, 1, 0, 4)])
def test_depthwise_equals_conv2d_with_groups_c(c, k, stride, padding, size):
    x, w, b = torch.randn(2, c, size, size), torch.randn(c, 1, k, k), torch.randn(c)
    expected = F.conv2d(x, w, b, stride=stride, padding=padding, groups=c)
    torch.testing.assert_close(depthwise_conv2d(x, w, b, stride, padding), expected)


@pytest.mark.parametrize("cin, cout, groups", [(8, 12, 2), (6, 6, 3), (4, 8, 1), (6, 12, 6)])
def test_grouped_equals_conv2d(cin, cout, groups):
    x, w = torch.randn(2, cin, 7, 7), torch.randn(cout, cin // groups, 3, 3)
    torch.testing.assert_close(grouped_conv2d(x, w, padding=1, groups=groups),
                               F.conv2d(x, w, padding=1, groups=groups))


def test_depthwise_output_channel_depends_on_its_own_input_channel_only():
    x, w = torch.randn(1, 3, 6, 6), torch.randn(3, 1, 3, 3)
    changed = x.clone()
    changed[:, 1] += 1
    diff = (depthwise_conv2d(changed, w, padding=1) - depthwise_conv2d(x, w, padding=1)).abs()
    assert diff[:, 1].max() > 0 and diff[:, [0, 2]].max() == 0


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="groups must divide"):
        grouped_conv2d(torch.randn(1, 6, 5, 5), torch.randn(4, 2, 3, 3), groups=4)
    with pytest.raises(ValueError, match=r"weight must be \(C, 1, k, k\)"):
        depthwise_conv2d(torch.randn(1, 3, 5, 5), torch.randn(3, 3, 3, 3))


@pytest.mark.parametrize("cin, cout, k", [(32, 64, 3), (96, 96, 7), (3, 16, 5)])
def test_separable_params_and_flops_match_the_formulas(cin, cout, k):
    block, dense, hw = depthwise_separable(cin, cout, k), nn.Conv2d(cin, cout, k, padding=k // 2,
                                                                     bias=False), 10
    assert count_params(block) == k * k * cin + cin * cout
    assert count_params(dense) == k * k * cin * cout
    assert total_flops(block, (1, cin, hw, hw)) == 2 * hw * hw * (k * k * cin + cin * cout)
    rows = layer_table(block, (1, cin, hw, hw))
    assert [r.flops for r in rows] == [2 * hw * hw * k * k * cin, 2 * hw * hw * cin * cout]


@pytest.mark.parametrize("index", [1, 2, 3, 4, 7, 14, 17])
def test_inverted_residual_equals_torchvision_mobilenet_v2_block(index):
    reference = randomise(tvm.mobilenet_v2().features[index], seed=index).eval()
    conv = [m for m in reference.modules() if isinstance(m, nn.Conv2d)]
    inp, oup = conv[0].in_channels, conv[-1].out_channels
    stride = max(m.stride[0] for m in conv)
    ratio = 1 if len(conv) == 2 else conv[0].out_channels // inp
    mine = InvertedResidual(inp, oup, stride, ratio)
    mine.load_state_dict(reference.state_dict())
    mine.eval()
    assert mine.use_res_connect == reference.use_res_connect
    x = torch.randn(2, inp, 14, 14)
    with torch.no_grad():
        torch.testing.assert_close(mine(x), reference(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("act, scale", [(nn.ReLU, nn.Sigmoid), (nn.ReLU, nn.Hardsigmoid),
                                        (nn.SiLU, nn.Sigmoid)])
def test_squeeze_excitation_equals_torchvision(act, scale):
    torch.manual_seed(0)
    reference = TvSE(24, 6, activation=act, scale_activation=scale)
    mine = SqueezeExcitation(24, 6, act, scale)
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(3, 24, 5, 5)
    torch.testing.assert_close(mine(x), reference(x), atol=1e-5, rtol=1e-5)
    assert count_params(mine) == 24 * 6 + 6 + 6 * 24 + 24


def test_convnext_block_equals_torchvision_cnblock():
    reference = randomise(CNBlock(32, layer_scale=1e-6, stochastic_depth_prob=0.0)).eval()
    with torch.no_grad():
        reference.layer_scale.normal_()        # a tiny scale would hide a wrong branch
    mine = ConvNeXtBlock(32)
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(2, 32, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(mine(x), reference(x), atol=1e-5, rtol=1e-5)
    tv_block = tvm.convnext_tiny().features[1][0]
    assert sorted(ConvNeXtBlock(96).state_dict()) == sorted(tv_block.state_dict())


def test_convnext_path_changes_one_field_per_step_and_ends_at_cnblock():
    fields = [d.__dict__ for _, d in PATH]
    for before, after in zip(fields, fields[1:], strict=False):
        assert sum(before[k] != after[k] for k in before) == 1
    torch.manual_seed(0)
    last = randomise(DesignBlock(16, PATH[-1][1])).eval()
    with torch.no_grad():
        last.layer_scale.normal_()
    reference = CNBlock(16, layer_scale=1e-6, stochastic_depth_prob=0.0).eval()
    reference.load_state_dict(to_torchvision_cnblock(last))
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(last(x), reference(x), atol=1e-5, rtol=1e-5)
    # the first design is ResNet-50's bottleneck block (conv widths and BN) without the stride
    first = DesignBlock(64, PATH[0][1])
    assert count_params(first) == 64 * 16 + 16 * 16 * 9 + 16 * 64 + 2 * (16 + 16 + 64)


@pytest.mark.parametrize("build", [SmallMobileNet, SmallConvNeXt])
def test_small_nets_classify_28x28_and_train(build):
    torch.manual_seed(0)
    model = build()
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    assert model(x).shape == (8, 10)
    nn.functional.cross_entropy(model(x), y).backward()
    assert all(p.grad is not None for p in model.parameters())
