"""cnnedu.models.resnet: torchvision-compatible ResNet-18 and the mini family."""

import pytest
import torch
import torchvision
from torch import nn

from cnnedu.layer_table import count_layers
from cnnedu.layers import BatchNorm2d
from cnnedu.models.resnet import BasicBlock, resnet18, resnet50, resnet_mini


def test_resnet18_loads_torchvision_weights_and_agrees():
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    ours = resnet18()
    ours.load_state_dict(reference.state_dict(), strict=True)
    ours.eval()
    x = torch.randn(2, 3, 224, 224)
    torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)
    assert str(ours).count("Conv2d") == 20


def test_resnet50_state_dict_matches_torchvision_names_and_shapes():
    ours, ref = resnet50().state_dict(), torchvision.models.resnet50().state_dict()
    assert list(ours) == list(ref)
    assert all(ours[k].shape == ref[k].shape for k in ours)


def test_resnet18_counts():
    model = resnet18()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    sizes = [c.kernel_size[0] for c in convs]
    assert len(convs) == 20 and sizes.count(7) == 1 and sizes.count(3) == 16 and sizes.count(1) == 3


def test_from_scratch_batchnorm_can_be_plugged_in():
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    ours = resnet18(norm_layer=BatchNorm2d)
    ours.load_state_dict(reference.state_dict(), strict=True)
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("depth", [8, 14, 20])
def test_mini_depth_counts_and_plain_twin(depth):
    residual, plain = resnet_mini(depth, 8), resnet_mini(depth, 8, residual=False)
    # depth counts the weighted layers on the main path: convs (without shortcuts) + fc
    main_convs = [n for n, m in plain.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(main_convs) + 1 == depth
    assert count_layers(residual, nn.Conv2d) == depth - 1 + 2     # + two 1x1 shortcuts
    x = torch.randn(2, 1, 28, 28)
    assert residual(x).shape == plain(x).shape == (2, 10)


def test_mini_without_batchnorm_has_none_and_uses_biases():
    model = resnet_mini(14, 8, batchnorm=False)
    assert count_layers(model, nn.BatchNorm2d) == 0
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))


def test_residual_block_is_identity_plus_branch():
    block = BasicBlock(4, 4).eval()
    nn.init.zeros_(block.bn2.weight)               # branch outputs 0
    x = torch.rand(1, 4, 5, 5)
    torch.testing.assert_close(block(x), x)        # relu(0 + x) = x for x >= 0
    plain = BasicBlock(4, 4, residual=False).eval()
    nn.init.zeros_(plain.bn2.weight)
    assert plain(x).abs().max() == 0


def test_zero_init_residual_starts_as_identity_without_bn():
    model = resnet_mini(8, 4, batchnorm=False, zero_init_residual=True)
    assert model.layer1[0].conv2.weight.abs().sum() == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="6n\\+2"):
        resnet_mini(10)
    with pytest.raises(ValueError, match="width"):
        resnet_mini(8, 0)
