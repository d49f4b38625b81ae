"""cnnedu.layer_table and cnnedu.receptive_field against hand counts and known figures."""

import pytest
from torch import nn
from torchvision.models import alexnet, resnet18

from cnnedu.layer_table import count_layers, count_params, format_table, layer_table, total_flops
from cnnedu.receptive_field import GLOBAL, ReceptiveField


def small_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.Flatten(), nn.Linear(72, 10))


def test_layer_table_matches_hand_counts():
    rows = {r.name: r for r in layer_table(small_net(), (1, 1, 8, 8))}
    assert rows["0"].output_shape == (1, 4, 6, 6) and rows["0"].params == 4 * 9 + 4
    assert rows["0"].flops == 2 * (4 * 6 * 6) * (3 * 3 * 1)       # 2 FLOPs per multiply-add
    assert rows["0"].field == ReceptiveField(3, 1)
    assert rows["1"].field == ReceptiveField(3, 1)                          # ReLU keeps the field
    assert rows["2"].output_shape == (1, 4, 3, 3) and rows["2"].field == ReceptiveField(4, 2)
    assert rows["3"].params == 8 * 4 * 9 + 8 and rows["3"].flops == 2 * (8 * 3 * 3) * (3 * 3 * 4)
    assert rows["3"].field == ReceptiveField(4 + 2 * 2, 2)
    assert rows["4"].field == ReceptiveField(8, 2)                          # flatten keeps each unit's
    assert rows["5"].flops == 2 * 72 * 10 and rows["5"].field.size == GLOBAL
    lines = format_table(list(rows.values())).splitlines()
    assert len(lines) == 1 + 6 + 1                                 # header, 6 layers, total
    # 40 + 296 + 730 = 1066 parameters; 2592 + 5184 + 1440 = 9216 FLOPs
    assert lines[-1].split() == ["total", "1.1", "k", "9.2", "k"]
    assert lines[1].split()[:2] == ["0", "Conv2d"] and lines[1].split()[-3:] == ["3", "(jump", "1)"]
    assert len(format_table(list(rows.values()), skip_kinds=("ReLU",)).splitlines()) == 7


def test_a_single_layer_model_is_its_own_row():
    rows = layer_table(nn.Conv2d(2, 3, 5, padding=2, bias=False), (1, 2, 10, 10))
    assert len(rows) == 1 and rows[0].name == "Conv2d" and rows[0].field == ReceptiveField(5, 1)
    assert rows[0].flops == 2 * 3 * 10 * 10 * 5 * 5 * 2 and rows[0].params == 3 * 2 * 25


def test_dilation_and_stride_in_fields():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.Conv2d(1, 1, 3, stride=2),
                        nn.Conv2d(1, 1, 3), nn.AvgPool2d(2), nn.Conv2d(1, 1, 1))
    fields = [r.field for r in layer_table(net, (1, 1, 32, 32))]
    assert fields == [ReceptiveField(*f) for f in [(5, 1), (7, 2), (11, 2), (13, 4), (13, 4)]]


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
    assert rows["conv1"].field == ReceptiveField(7, 2) and rows["maxpool"].field == ReceptiveField(11, 4)
    assert rows["layer4.1.conv2"].field.size == 435                 # ResNet-18's known field
    assert rows["fc"].field.size == GLOBAL
    assert rows["layer2.0.downsample.0"].output_shape == (1, 128, 28, 28)


def test_layer_table_rejects_bad_shape():
    with pytest.raises(ValueError, match="N, C, H, W"):
        layer_table(small_net(), (1, 8, 8))


def test_max_pool_dilation_widens_the_field():
    """By hand: a 3x3 convolution sees 3 pixels; a 3-wide max pool with dilation 2 (stride 1)
    spans 1 + 2 * (3 - 1) = 5 of those positions, so 3 + (5 - 1) = 7 pixels."""
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(3, stride=1, dilation=2))
    fields = [r.field for r in layer_table(net, (1, 1, 32, 32))]
    assert fields == [ReceptiveField(3, 1), ReceptiveField(7, 1)]
