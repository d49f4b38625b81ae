"""AlexNet for Fashion-MNIST and torchvision's AlexNet adapted to it."""

import pytest
import torch
from torch import nn

from cnnedu.models.alexnet import AlexNet, torchvision_alexnet_for_fashion_mnist


def count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


def test_lesson_alexnet_keeps_the_design():
    model = AlexNet()
    assert count(model, nn.Conv2d) == 5 and count(model, nn.Linear) == 3
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size == 3 and p.stride == 2 for p in pools)
    assert count(model, nn.Dropout) == 2
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10)


def test_extra_convs_and_width():
    deeper = AlexNet(extra_convs=3)
    assert count(deeper, nn.Conv2d) == 8
    assert deeper(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in AlexNet(width=2).parameters()) > \
        sum(p.numel() for p in AlexNet().parameters())


def test_wrong_input_shape_is_explained():
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        AlexNet()(torch.randn(1, 3, 28, 28))


def test_torchvision_alexnet_adapted():
    model = torchvision_alexnet_for_fashion_mnist()
    assert model.features[0].in_channels == 1 and model.classifier[-1].out_features == 10
    assert model(torch.randn(1, 1, 224, 224)).shape == (1, 10)
    assert count(model, nn.Conv2d) == 5 and count(model, nn.Linear) == 3


def test_alexnet_2012_matches_the_paper_counts():
    from cnnedu.models.alexnet import alexnet_2012

    model = alexnet_2012()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]          # the two-GPU split
    assert count(model, nn.LocalResponseNorm) == 2
    assert sum(p.numel() for p in model.parameters()) == 60_965_224   # "60 million"
    assert model(torch.zeros(1, 3, 227, 227)).shape == (1, 1000)


def test_he_init_keeps_activation_scale_through_depth():
    torch.manual_seed(0)
    x = torch.randn(64, 1, 28, 28)
    scales = {}
    for init in ("pytorch", "he"):
        model = AlexNet(extra_convs=8, init=init).eval()
        scales[init] = model.features(x).std().item()
    assert scales["he"] > 10 * scales["pytorch"]
    with pytest.raises(ValueError, match="init"):
        AlexNet(init="xavier")
