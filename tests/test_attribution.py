"""The from-scratch attribution methods equal Captum's on random inputs and on the lesson ResNet."""

import pytest
import torch
from captum.attr import InputXGradient, LayerAttribution, LayerGradCam, NoiseTunnel, Occlusion, Saliency
from torch import nn

from cnnedu import attribution as A
from cnnedu.models.resnet import resnet_mini


def small_cnn() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5)).eval()


def lesson_resnet() -> nn.Module:
    torch.manual_seed(2)
    model = resnet_mini(depth=8, width=8)
    for m in model.modules():           # non-trivial BN statistics, so eval mode matters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(params=["cnn", "resnet"])
def case(request):
    torch.manual_seed(3)
    if request.param == "cnn":
        model, x = small_cnn(), torch.randn(3, 1, 13, 11)
        return model, x, torch.tensor([0, 4, 2]), model[2]
    model = lesson_resnet()
    return model, torch.randn(2, 1, 28, 28), torch.tensor([7, 1]), model.layer2


def close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_saliency_equals_captum(case):
    model, x, t, _ = case
    close(A.saliency(model, x, t), Saliency(model).attribute(x, target=t, abs=True))
    close(A.saliency(model, x, t, absolute=False),
          Saliency(model).attribute(x, target=t, abs=False))


def test_smoothgrad_equals_captum_noise_tunnel(case):
    model, x, t, _ = case
    torch.manual_seed(11)
    theirs = NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=6,
                                                    stdevs=0.3, target=t)
    ours = A.smoothgrad(model, x, t, samples=6, stdev=0.3,
                        generator=torch.Generator().manual_seed(11))
    close(ours, theirs)


def test_gradient_x_input_equals_captum(case):
    model, x, t, _ = case
    close(A.gradient_x_input(model, x, t), InputXGradient(model).attribute(x, target=t))


@pytest.mark.parametrize("patch,stride", [(3, 1), (4, 3), (5, 4), (2, 2)])
def test_occlusion_equals_captum(case, patch, stride):
    model, x, t, _ = case
    theirs = Occlusion(model).attribute(x, sliding_window_shapes=(1, patch, patch),
                                        strides=(1, stride, stride), baselines=0.0, target=t)
    close(A.occlusion(model, x, t, patch=patch, stride=stride, batch_size=7), theirs)


@pytest.mark.parametrize("patch,stride", [(3, 1), (4, 3)])
def test_occlusion_for_all_targets_equals_captum_per_target(case, patch, stride):
    model, x, _, _ = case
    one = x[1:2]
    # Stride 1 on a 14x14 crop: overlapping windows still, but not all 676 windows of 28x28
    # ten times through Captum (30 s on a busy CI core).
    if stride == 1:
        one = one[..., :14, :14]
    maps = A.occlusion_all_targets(model, one, patch=patch, stride=stride, batch_size=5)
    classes = model(one).shape[1]
    assert maps.shape == (classes, *one.shape[1:])
    for k in range(classes):
        theirs = Occlusion(model).attribute(one, sliding_window_shapes=(1, patch, patch),
                                            strides=(1, stride, stride), baselines=0.0,
                                            target=k)
        close(maps[k:k + 1], theirs)
    with pytest.raises(ValueError, match="x must hold one image"):
        A.occlusion_all_targets(model, x, patch=patch, stride=stride)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grad_cam_equals_captum(case, mode):
    model, x, t, layer = case
    cam = LayerGradCam(model, layer).attribute(x, target=t, relu_attributions=True)
    theirs = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode=mode)
    close(A.grad_cam(model, layer, x, t, mode=mode), theirs)
    close(A.grad_cam(model, layer, x, t, upsample=False), cam)


def test_attribute_sums_channels_and_dispatches():
    model, x = small_cnn(), torch.randn(2, 1, 9, 9)
    close(A.attribute("saliency", model, x, 1), Saliency(model).attribute(x, target=1))
    assert A.attribute("grad-cam", model, x, 1, layer=model[0]).shape == (2, 1, 9, 9)


def test_window_starts_hand_cases():
    assert A.window_starts(28, 5, 4) == [0, 4, 8, 12, 16, 20, 24]    # last patch cut at 28
    assert A.window_starts(6, 3, 3) == [0, 3]
    assert A.window_starts(6, 6, 10) == [0]                          # one patch covers all


@pytest.mark.parametrize("call,words", [
    (lambda m, x: A.occlusion(m, x, 0, patch=10), "patch must be between 1 and the image side 9"),
    (lambda m, x: A.occlusion(m, x, 0, patch=3, stride=4), "stride must be between 1 and"),
    (lambda m, x: A.saliency(m, x[0], 0), "x must be a float tensor of shape (N, C, H, W)"),
    (lambda m, x: A.saliency(m, x, 5), "target must lie in [0, 5)"),
    (lambda m, x: A.saliency(m, x, [1, 2, 3]), "target must be one int or 2 ints"),
    (lambda m, x: A.grad_cam(m, m[6], x, 0), "layer must output spatial maps"),
    (lambda m, x: A.grad_cam(m, nn.ReLU(), x, 0), "not used by the model"),
    (lambda m, x: A.smoothgrad(m, x, 0, samples=0), "samples must be at least 1"),
    (lambda m, x: A.attribute("lime", m, x, 0), "method must be one of"),
])
def test_bad_input_is_refused_with_a_clear_error(call, words):
    with pytest.raises(ValueError) as info:
        call(small_cnn(), torch.randn(2, 1, 9, 9))
    assert words in str(info.value)
