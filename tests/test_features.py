"""cnnedu.features on both paths (torch.fx and hooks), which must agree."""

import pytest
import torch
from torch import nn

from cnnedu.features import conv_layer_names, feature_maps
from cnnedu.models.alexnet import AlexNet


class Branchy(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace this."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        if x.sum() > 0:
            x = self.conv2(x)
        return x


def test_features_fx_and_hooks_agree_on_alexnet():
    torch.manual_seed(0)
    model, x = AlexNet(), torch.randn(2, 1, 28, 28)
    layers = conv_layer_names(model)
    assert layers == ["features.0", "features.3", "features.6", "features.8", "features.10"]
    fx = feature_maps(model, x, method="fx")
    hooks = feature_maps(model, x, method="hooks")
    assert fx.method == "fx" and hooks.method == "hooks" and list(fx) == layers
    for layer in layers:
        torch.testing.assert_close(fx[layer], hooks[layer])
    assert fx["features.0"].shape == (2, 32, 28, 28)
    # conv outputs are taken before the in-place ReLU: negative values survive
    assert (fx["features.0"] < 0).any() and (hooks["features.0"] < 0).any()
    assert all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))   # restored


def test_features_fall_back_to_hooks_when_tracing_fails():
    model = Branchy()
    nn.init.constant_(model.conv1.bias, 1.0)
    maps = feature_maps(model, torch.rand(1, 1, 8, 8))
    assert maps.method == "hooks" and list(maps) == ["conv1", "conv2"]
    with pytest.raises(torch.fx.proxy.TraceError):
        feature_maps(model, torch.rand(1, 1, 8, 8), method="fx")


def test_features_errors_are_clear():
    with pytest.raises(ValueError, match="no module named"):
        feature_maps(AlexNet(), torch.zeros(1, 1, 28, 28), ["features.99"])
    with pytest.raises(ValueError, match="no Conv2d"):
        feature_maps(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="method"):
        feature_maps(AlexNet(), torch.zeros(1, 1, 28, 28), method="magic")
    model = Branchy()
    nn.init.constant_(model.conv1.bias, -10.0)         # conv2 is never reached
    with pytest.raises(RuntimeError, match="not called"):
        feature_maps(model, torch.rand(1, 1, 8, 8), method="hooks")


def test_train_mode_uses_batch_statistics_and_leaves_the_model_alone():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    x = torch.randn(8, 1, 6, 6) * 5 + 3
    before = net[1].running_mean.clone()
    train_maps = feature_maps(net, x, ["1"], mode="train")["1"]
    eval_maps = feature_maps(net, x, ["1"])["1"]
    assert train_maps.mean(dim=(0, 2, 3)).abs().max() < 1e-5          # normalised by the batch
    assert not torch.allclose(train_maps, eval_maps)                     # fresh running stats differ
    assert torch.equal(net[1].running_mean, before) and net.training
    with pytest.raises(ValueError, match="mode"):
        feature_maps(net, x, ["1"], mode="test")
