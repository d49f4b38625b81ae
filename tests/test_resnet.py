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
    model = resnet_mini(14, 4, batchnorm=False, zero_init_residual=True).eval()
    blocks = [b for stage in (model.layer1, model.layer2, model.layer3) for b in stage]
    assert len(blocks) == 6
    x = torch.rand(1, 4, 7, 7)                           # >= 0, so relu(x + 0) = x
    torch.testing.assert_close(model.layer1[0](x), x)   # every block's branch adds exactly 0
    for block in blocks:
        assert block.conv2.weight.abs().sum() == 0 and block.conv2.bias.abs().sum() == 0
    assert resnet_mini(14, 4, batchnorm=False).layer1[0].conv2.weight.abs().sum() > 0


def test_stem_stride_two_halves_every_stage_and_keeps_the_weights():
    """stem_stride=2: the same layers and weights, stages at 14, 7 and 4 pixels (3x3, padding 1,
    stride 2: (28 + 2 - 3) // 2 + 1 = 14), and the stem's output is the stride-1 stem's output
    at every second pixel, which is what a stride-2 convolution computes."""
    torch.manual_seed(0)
    full, strided = resnet_mini(8, 16), resnet_mini(8, 16, stem_stride=2)
    strided.load_state_dict(full.state_dict(), strict=True)
    sizes = {}
    for name in ("conv1", "layer1", "layer2", "layer3"):
        getattr(strided, name).register_forward_hook(
            lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[1:])))
    x = torch.randn(2, 1, 28, 28)
    assert strided(x).shape == (2, 10)
    assert sizes == {"conv1": (16, 14, 14), "layer1": (16, 14, 14), "layer2": (32, 7, 7),
                     "layer3": (64, 4, 4)}
    torch.testing.assert_close(strided.conv1(x), full.conv1(x)[:, :, ::2, ::2])


def test_bad_arguments():
    with pytest.raises(ValueError, match="6n\\+2"):
        resnet_mini(10)
    with pytest.raises(ValueError, match="width"):
        resnet_mini(8, 0)
    with pytest.raises(ValueError, match="stem_stride must be 1 or 2, got 3"):
        resnet_mini(8, 16, stem_stride=3)


@pytest.mark.parametrize("stage, index", [("layer1", 1), ("layer2", 0)])
def test_bottleneck_agrees_with_torchvision(stage, index):
    """Our Bottleneck (1x1-3x3-1x1) loads a torchvision ResNet-50 block, with and without a
    strided 1x1 downsample, and gives the same output in training and in eval mode."""
    torch.manual_seed(0)
    reference_model = torchvision.models.resnet50()
    for m in reference_model.modules():         # non-trivial BN parameters and statistics
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    reference = getattr(reference_model, stage)[index]
    ours = resnet50()
    ours.load_state_dict(reference_model.state_dict(), strict=True)
    block = getattr(ours, stage)[index]
    assert (block.downsample is None) == (reference.downsample is None)
    x = torch.randn(2, reference.conv1.in_channels, 16, 16)
    for mode in (True, False):
        block.train(mode)
        reference.train(mode)
        torch.testing.assert_close(block(x), reference(x), atol=1e-5, rtol=1e-5)


def test_bottleneck_has_far_fewer_parameters_than_a_basic_block_of_its_width():
    from cnnedu.layer_table import count_params
    from cnnedu.models.resnet import Bottleneck

    bottleneck = Bottleneck(256, 64)
    weights = 256 * 64 + 64 * 64 * 9 + 64 * 256            # 1x1, 3x3, 1x1 convolutions
    norms = 2 * (64 + 64 + 256)                            # gamma and beta of three BNs
    assert count_params(bottleneck) == weights + norms
    assert count_params(BasicBlock(256, 256)) > 15 * count_params(bottleneck)


@pytest.mark.parametrize("depth", [18, 50])
def test_zero_init_residual_zeroes_the_same_weights_as_torchvision(depth):
    """Truth: torchvision zeroes the last BatchNorm's weight of every block (bn2 in a basic
    block, bn3 in a bottleneck) with ``zero_init_residual=True``, and nothing else."""
    ours_fn, theirs_fn = {18: (resnet18, torchvision.models.resnet18),
                          50: (resnet50, torchvision.models.resnet50)}[depth]

    def zero_weights(model):
        return sorted(k for k, v in model.state_dict().items()
                      if k.endswith(".weight") and v.dim() == 1 and not v.any())

    theirs = zero_weights(theirs_fn(zero_init_residual=True))
    assert theirs and zero_weights(ours_fn(zero_init_residual=True)) == theirs
    assert zero_weights(ours_fn()) == [] == zero_weights(theirs_fn())


def test_zero_init_residual_block_passes_its_input_through_like_torchvision():
    """With the branch zeroed, a block in train mode computes relu(x + 0): compared with
    torchvision's first bottleneck block loaded with the same weights."""
    torch.manual_seed(0)
    ours, theirs = resnet50(zero_init_residual=True), torchvision.models.resnet50()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 256, 8, 8)
    block, reference = ours.layer1[1], theirs.layer1[1]
    torch.testing.assert_close(block(x), reference(x))
    torch.testing.assert_close(block(x), torch.relu(x))
