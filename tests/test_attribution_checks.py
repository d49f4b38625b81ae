"""The sanity-check and deletion helpers, and the channel tools, against independent truths."""

import pytest
import torch
from torch import nn

from cnnedu.attribution import saliency
from cnnedu.attribution_checks import area_under, cascading_randomization, deletion_curve, spearman
from cnnedu.channels import layer_field, top_activating, unit_box
from cnnedu.models.resnet import resnet_mini


def test_spearman_hand_cases():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert spearman(a, a ** 3).item() == pytest.approx(1.0)
    assert spearman(a, -a).item() == pytest.approx(-1.0)
    # ties: ranks of [1, 1, 2, 3] are [0.5, 0.5, 2, 3]; Pearson with [0, 1, 2, 3] by hand
    b = torch.tensor([[1.0, 1.0, 2.0, 3.0]])
    rb = torch.tensor([0.5, 0.5, 2, 3]) - 1.5
    ra = torch.tensor([0.0, 1, 2, 3]) - 1.5
    assert spearman(a, b).item() == pytest.approx(float((ra @ rb) / (ra.norm() * rb.norm())))


def test_deletion_curve_hand_case():
    # a "model" whose class-1 logit is the pixel sum: deleting pixels changes it predictably
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[0.0, 0, 0, 0], [1, 1, 1, 1]]))
    x = torch.tensor([[[[3.0, 1.0], [0.0, 2.0]]]])
    maps = x.clone()                               # delete the largest pixels first
    curve = deletion_curve(model, x, torch.tensor([1]), maps, [0, 0.25, 0.5, 1.0])
    logits = torch.tensor([6.0, 3.0, 1.0, 0.0])    # sums left after deleting 0, 1, 2, 4 pixels
    assert curve[0].tolist() == pytest.approx(torch.sigmoid(logits).tolist())
    assert area_under(curve, [0, 0.25, 0.5, 1.0]).item() == pytest.approx(
        float(torch.trapezoid(torch.sigmoid(logits), torch.tensor([0, 0.25, 0.5, 1.0]))))


def test_cascading_randomization_leaves_model_and_detects_change():
    torch.manual_seed(0)
    model = resnet_mini(depth=8, width=4).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 1, 2])
    out = cascading_randomization(model, ["fc", "layer3", "layer2"],
                                  {"saliency": saliency, "input": lambda m, x, y: x}, x, y)
    assert out["input"] == pytest.approx([1.0, 1.0, 1.0])    # a map that ignores the model
    assert all(abs(c) < 0.9 for c in out["saliency"])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_unit_box_matches_gradient_support():
    # positive weights, no BN, positive input: every ReLU passes, so d unit / d input is
    # non-zero exactly on the unit's receptive field clipped to the image
    torch.manual_seed(0)
    model = resnet_mini(depth=8, width=2, batchnorm=False).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_().add_(0.01)
    x = torch.rand(1, 1, 28, 28) + 0.1
    for layer, row, col in [(model.conv1, 0, 5), (model.layer1, 13, 27), (model.layer2, 3, 6),
                            (model.layer3, 0, 6), (model.layer3, 3, 3)]:
        field = layer_field(model, layer, (1, 1, 28, 28))
        xg = x.clone().requires_grad_(True)
        acts = []
        handle = layer.register_forward_hook(lambda _m, _i, o, acts=acts: acts.append(o))
        model(xg)
        handle.remove()
        (g,) = torch.autograd.grad(acts[0][0, 0, row, col], xg)
        rows, cols = g[0, 0].abs().gt(0).nonzero().unbind(1)
        truth = (int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max()))
        assert unit_box(field, row, col, (28, 28)) == truth, (layer, row, col)


def test_top_activating_finds_the_brightest_images():
    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
    x = torch.zeros(5, 1, 4, 4)
    x[3, 0, 1, 2], x[1, 0, 0, 0] = 5.0, 2.0
    top = top_activating(model, model[0], x, channel=0, k=2, batch_size=2)
    assert [(u.index, u.value, u.row, u.col) for u in top] == [(3, 5.0, 1, 2), (1, 2.0, 0, 0)]
    with pytest.raises(ValueError, match=r"channel must lie in \[0, 2\), got 2"):
        top_activating(model, model[0], x, channel=2)
