"""cnnedu.inspect against hand counts and known figures; cnnedu.features on both paths."""

import pytest
import torch
from torch import nn
from torchvision.models import alexnet, resnet18

from cnnedu.features import conv_layer_names, feature_maps
from cnnedu.inspect import (
    GLOBAL,
    Field,
    count_layers,
    count_params,
    format_table,
    layer_table,
    total_flops,
)
from cnnedu.models.alexnet import AlexNet


def small_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.Flatten(), nn.Linear(72, 10))


def test_layer_table_matches_hand_counts():
    rows = {r.name: r for r in layer_table(small_net(), (1, 1, 8, 8))}
    assert rows["0"].output_shape == (1, 4, 6, 6) and rows["0"].params == 4 * 9 + 4
    assert rows["0"].flops == 2 * (4 * 6 * 6) * (3 * 3 * 1)       # 2 FLOPs per multiply-add
    assert rows["0"].field == Field(3, 1)
    assert rows["1"].field == Field(3, 1)                          # ReLU keeps the field
    assert rows["2"].output_shape == (1, 4, 3, 3) and rows["2"].field == Field(4, 2)
    assert rows["3"].params == 8 * 4 * 9 + 8 and rows["3"].flops == 2 * (8 * 3 * 3) * (3 * 3 * 4)
    assert rows["3"].field == Field(4 + 2 * 2, 2)
    assert rows["4"].field == Field(8, 2)                          # flatten keeps each unit's
    assert rows["5"].flops == 2 * 72 * 10 and rows["5"].field.size == GLOBAL
    assert "total" in format_table(list(rows.values()))


def test_a_single_layer_model_is_its_own_row():
    rows = layer_table(nn.Conv2d(2, 3, 5, padding=2, bias=False), (1, 2, 10, 10))
    assert len(rows) == 1 and rows[0].name == "Conv2d" and rows[0].field == Field(5, 1)
    assert rows[0].flops == 2 * 3 * 10 * 10 * 5 * 5 * 2 and rows[0].params == 3 * 2 * 25


def test_dilation_and_stride_in_fields():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.Conv2d(1, 1, 3, stride=2),
                        nn.Conv2d(1, 1, 3), nn.AvgPool2d(2), nn.Conv2d(1, 1, 1))
    fields = [r.field for r in layer_table(net, (1, 1, 32, 32))]
    assert fields == [Field(5, 1), Field(7, 2), Field(11, 2), Field(13, 4), Field(13, 4)]


def test_torchvision_alexnet_figures():
    model = alexnet()
    assert count_layers(model, nn.Conv2d) == 5 and count_layers(model, nn.Linear) == 3
    assert count_params(model) == 61_100_840
    rows = layer_table(model, (1, 3, 224, 224))
    conv1 = rows[0]
    assert conv1.output_shape == (1, 64, 55, 55)
    assert conv1.flops == 2 * 64 * 55 * 55 * 11 * 11 * 3
    last_pool = [r for r in rows if r.name == "features.12"][0]
    assert last_pool.field.size == 195 and last_pool.field.jump == 32   # AlexNet's known field
    assert sum(r.flops for r in rows) == total_flops(model, (1, 3, 224, 224))


def test_resnet18_fields_follow_the_main_path_and_shortcuts():
    rows = {r.name: r for r in layer_table(resnet18(), (1, 3, 224, 224))}
    assert rows["conv1"].field == Field(7, 2) and rows["maxpool"].field == Field(11, 4)
    assert rows["layer4.1.conv2"].field.size == 435                 # ResNet-18's known field
    assert rows["fc"].field.size == GLOBAL
    assert rows["layer2.0.downsample.0"].output_shape == (1, 128, 28, 28)


def test_layer_table_rejects_bad_shape():
    with pytest.raises(ValueError, match="N, C, H, W"):
        layer_table(small_net(), (1, 8, 8))


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


def test_saved_activation_bytes_by_hand():
    from cnnedu.inspect import saved_activation_bytes

    net = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(18, 3))
    # conv saves its input (25 floats); ReLU saves its output (18); the Linear saves its input,
    # which is the same storage as ReLU's output (flatten is a view): counted once.
    assert saved_activation_bytes(net, (1, 1, 5, 5)) == (25 + 18) * 4
    before = [p.clone() for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_profile_matches_independent_counts_on_resnet18():
    from cnnedu.inspect import compare, profile, profiles_text

    model = resnet18()
    p = profile(model, (1, 3, 64, 64), repeats=2)
    assert p.conv2d_count == 20 and p.params == 11_689_512
    assert p.flops == total_flops(model, (1, 3, 64, 64))
    # conv1 alone saves its 3x64x64 input: the whole is far more
    assert p.activation_bytes > 3 * 64 * 64 * 4 * 10
    assert p.latency_ms > 0
    both = compare({"a": small_net(), "b": model}, {"a": (1, 1, 8, 8), "b": (1, 3, 64, 64)},
                   repeats=1)
    assert both["a"].params == 4 * 9 + 4 + 8 * 4 * 9 + 8 + 730
    text = profiles_text(both, {"a": {"top-1": "n/a"}})
    assert "top-1" in text and "MiB" in text
