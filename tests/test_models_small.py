"""The small VGG-, Inception- and DenseNet-style networks keep their families' ideas."""

import torch
from torch import nn

from cnnedu.models.small import InceptionModule, SmallDenseNet, SmallInception, SmallVGG


def test_all_map_fashion_mnist_to_ten_logits():
    x = torch.randn(2, 1, 28, 28)
    for model in (SmallVGG(), SmallInception(), SmallDenseNet()):
        assert model(x).shape == (2, 10)


def test_vgg_uses_only_3x3_convolutions():
    sizes = {m.kernel_size for m in SmallVGG().modules() if isinstance(m, nn.Conv2d)}
    assert sizes == {(3, 3)}


def test_inception_module_concatenates_four_branches():
    module = InceptionModule(8, 4, 4, 6, 2, 3, 5)
    out = module(torch.randn(1, 8, 7, 7))
    assert out.shape == (1, 4 + 6 + 3 + 5, 7, 7) and module.out_channels == 18


def test_dense_block_grows_by_the_growth_rate():
    model = SmallDenseNet(growth=12, layers=4)
    dense_inputs = [m.conv.in_channels for m in model.modules() if hasattr(m, "conv")]
    assert dense_inputs[:4] == [24, 36, 48, 60]          # 2k, then + k per layer
