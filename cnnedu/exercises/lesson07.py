"""Lesson 07 (inside a trained network): Grad-CAM and occlusion from scratch, against Captum."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .functions import Case, Exercise, Mistake
from .registry import register


def grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target: torch.Tensor):
    """Grad-CAM of ``layer`` for class ``target[i]`` of image ``x[i]``, (N, 1, H, W), bilinear."""
    caught = []
    handle = layer.register_forward_hook(lambda module, inputs, output: caught.append(output))
    logits = model(x)
    handle.remove()
    acts = caught[0]                                           # (N, K, h, w)
    score = logits.gather(1, target[:, None]).sum()            # one target logit per image
    (grads,) = torch.autograd.grad(score, acts)
    weights = grads.mean(dim=(2, 3), keepdim=True)             # alpha_k: average over space
    cam = F.relu((weights * acts).sum(dim=1, keepdim=True))    # keep positive evidence only
    return F.interpolate(cam, size=x.shape[-2:], mode="bilinear")


@torch.no_grad()
def occlusion_map(model: nn.Module, x: torch.Tensor, target: torch.Tensor, patch: int,
                  stride: int):
    """Mean drop of the target logit over the ``patch`` x ``patch`` zero patches covering each
    pixel, patches every ``stride`` pixels (the last one cut at the edge); shape of ``x``."""
    n, _, height, width = x.shape
    picked = torch.arange(n)
    base = model(x)[picked, target]
    total, count = torch.zeros_like(x), torch.zeros_like(x)
    for top in range(0, math.ceil((height - patch) / stride) * stride + 1, stride):
        for left in range(0, math.ceil((width - patch) / stride) * stride + 1, stride):
            occluded = x.clone()
            occluded[..., top:top + patch, left:left + patch] = 0
            drop = base - model(occluded)[picked, target]
            total[..., top:top + patch, left:left + patch] += drop[:, None, None, None]
            count[..., top:top + patch, left:left + patch] += 1
    return total / count


def _captum_grad_cam(model, layer, x, target):
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")


def _captum_occlusion(model, x, target, patch, stride):
    from captum.attr import Occlusion

    return Occlusion(model).attribute(x, sliding_window_shapes=(x.shape[1], patch, patch),
                                      strides=(1, stride, stride), baselines=0.0, target=target)


def _model(kind: str, seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    if kind == "resnet":
        from cnnedu.models.resnet import resnet_mini

        model = resnet_mini(depth=8, width=4).eval()
        return model, model.layer2
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5))
    return model.eval(), model[2]


def _cam_cases() -> list[Case]:
    cases = []
    for kind, shape, seed in [("cnn", (2, 1, 9, 9), 0), ("cnn", (3, 1, 12, 10), 1),
                              ("resnet", (2, 1, 28, 28), 2)]:
        model, layer = _model(kind, seed)
        x, target = torch.randn(*shape), torch.arange(shape[0]) % 5
        where = "its stride-2 conv" if kind == "cnn" else "its layer2"
        cases.append(Case(f"a random {'small CNN' if kind == 'cnn' else 'ResNet-8'} with layer = "
                          f"{where}, x of shape {shape}, target {target.tolist()}",
                          (model, layer, x, target)))
    return cases


def _occlusion_cases() -> list[Case]:
    cases = []
    for kind, shape, patch, stride, seed in [("cnn", (2, 1, 9, 9), 3, 2, 0),
                                             ("cnn", (1, 1, 10, 10), 4, 3, 1),
                                             ("cnn", (2, 1, 8, 11), 2, 1, 2),
                                             ("resnet", (1, 1, 28, 28), 6, 4, 3)]:
        model, _ = _model(kind, seed)
        x, target = torch.randn(*shape), torch.arange(shape[0]) % 5
        name = "small CNN" if kind == "cnn" else "ResNet-8"
        cases.append(Case(f"a random {name}, x of shape {shape}, target {target.tolist()}, "
                          f"patch={patch}, stride={stride}", (model, x, target, patch, stride)))
    return cases


def _cam_variant(relu: bool = True, pixelwise: bool = False, mode: str = "bilinear"):
    """Grad-CAM with one step done wrong: no ReLU, per-pixel (not averaged) gradient weights,
    or nearest (not bilinear) upsampling; the correct steps as in the reference."""

    def cam_fn(model, layer, x, target):
        caught = []
        handle = layer.register_forward_hook(lambda m, i, o: caught.append(o))
        logits = model(x)
        handle.remove()
        (grads,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), caught[0])
        weights = grads if pixelwise else grads.mean(dim=(2, 3), keepdim=True)
        cam = (weights * caught[0]).sum(dim=1, keepdim=True)
        return F.interpolate(F.relu(cam) if relu else cam, size=x.shape[-2:], mode=mode)

    return cam_fn


def _occlusion_last_missing(model, x, target, patch, stride):
    """Patch tops from range(0, H - patch, stride): the end is off by one, the last row of
    patches is missing (pixels there are never occluded)."""
    n, _, height, width = x.shape
    base = model(x)[torch.arange(n), target]
    total, count = torch.zeros_like(x), torch.zeros_like(x)
    for top in range(0, height - patch, stride):
        for left in range(0, width - patch, stride):
            occluded = x.clone()
            occluded[..., top:top + patch, left:left + patch] = 0
            drop = base - model(occluded)[torch.arange(n), target]
            total[..., top:top + patch, left:left + patch] += drop[:, None, None, None]
            count[..., top:top + patch, left:left + patch] += 1
    return total / count.clamp(min=1)


def _occlusion_summed(model, x, target, patch, stride):
    mean = occlusion_map(model, x, target, patch, stride)
    height, width = x.shape[-2:]
    count = torch.zeros_like(x)
    for top in range(0, math.ceil((height - patch) / stride) * stride + 1, stride):
        for left in range(0, math.ceil((width - patch) / stride) * stride + 1, stride):
            count[..., top:top + patch, left:left + patch] += 1
    return mean * count


def _occlusion_sign(model, x, target, patch, stride):
    return -occlusion_map(model, x, target, patch, stride)


register(
    Exercise(
        id="07.1", name="grad_cam", reference=grad_cam, truth=_captum_grad_cam,
        against="Captum's LayerGradCam + LayerAttribution.interpolate (bilinear)",
        cases=_cam_cases,
        explanation="A forward hook catches the layer's maps A_k; autograd.grad gives d(target "
                    "logit)/dA_k. Each channel's weight is that gradient averaged over space; the "
                    "map is ReLU(sum_k w_k A_k), then bilinearly upsampled to the input's size.",
        mistakes=[
            Mistake("Grad-CAM keeps only positive evidence: apply ReLU to the weighted sum.",
                    _cam_variant(relu=False)),
            Mistake("each channel's weight is ONE number: average the gradient over space "
                    "(dim=(2, 3)) before multiplying by the maps.", _cam_variant(pixelwise=True)),
            Mistake("upsample with mode='bilinear' (Captum's interpolate is given bilinear here).",
                    _cam_variant(mode="nearest")),
        ],
        more="print the shapes: maps (N, K, h, w), weights (N, K, 1, 1), map (N, 1, H, W).",
    ),
    Exercise(
        id="07.2", name="occlusion_map", reference=occlusion_map, truth=_captum_occlusion,
        against="Captum's Occlusion (baseline 0)", cases=_occlusion_cases,
        explanation="Patches start every `stride` pixels, ceil((H - patch) / stride) + 1 of them "
                    "per side, the last one cut at the edge. Each pixel gets the mean drop of the "
                    "target logit over the patches that covered it.",
        mistakes=[
            Mistake("the patch positions are off by one: there are ceil((H - patch) / stride) + "
                    "1 per side; the last one may overhang the edge (it is cut there).",
                    _occlusion_last_missing,
                    detect=lambda case, expected, got: isinstance(got, torch.Tensor)
                    and bool(torch.isnan(got).any())),
            Mistake("divide each pixel's summed drop by the number of patches that covered it.",
                    _occlusion_summed),
            Mistake("the drop is original logit minus occluded logit (positive = the patch "
                    "mattered).", _occlusion_sign),
        ],
        more="try a 6x6 image with patch=3, stride=2 on paper: which patches cover pixel 5?",
    ),
)
