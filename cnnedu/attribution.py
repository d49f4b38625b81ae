"""Attribution maps from scratch: which input pixels a trained network's decision depends on.

Five methods, each written in a few lines and checked against Captum in
``tests/test_attribution.py``:

* :func:`saliency` (Simonyan et al. 2014): the gradient of the target logit w.r.t. the input;
* :func:`smoothgrad` (Smilkov et al. 2017): the saliency averaged over noisy copies of the input;
* :func:`gradient_x_input` (Shrikumar et al. 2016): gradient times input;
* :func:`occlusion` (Zeiler & Fergus 2014): how much the target logit drops when a square patch
  is set to a baseline, averaged over the patches that cover each pixel;
* :func:`grad_cam` (Selvaraju et al. 2017): a layer's feature maps weighted by their
  spatially-averaged gradients, summed over channels, ReLU'd, upsampled to the input.

All take a model in evaluation mode, ``x`` of shape (N, C, H, W) and ``target`` (an int or N
ints) and return a map of the input's shape (Grad-CAM: (N, 1, H, W)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Target = int | torch.Tensor


def check_input(x: torch.Tensor) -> None:
    """A ValueError unless ``x`` is a floating (N, C, H, W) batch."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a float tensor of shape (N, C, H, W), got {shape}")


def target_index(target: Target, batch: int, classes: int) -> torch.Tensor:
    """``target`` as a LongTensor of ``batch`` class indices, each in [0, classes)."""
    t = torch.as_tensor(target, dtype=torch.long).flatten()
    if t.numel() == 1:
        t = t.expand(batch)
    if t.numel() != batch:
        raise ValueError(f"target must be one int or {batch} ints (one per image), "
                         f"got {t.numel()}")
    if (t < 0).any() or (t >= classes).any():
        raise ValueError(f"target must lie in [0, {classes}), got {t.tolist()}")
    return t


def _picked(logits: torch.Tensor, target: Target) -> torch.Tensor:
    """The target logit of each image, shape (N,)."""
    if logits.dim() != 2:
        raise ValueError(f"the model must return (N, classes) logits, got {tuple(logits.shape)}")
    t = target_index(target, logits.shape[0], logits.shape[1]).to(logits.device)
    return logits.gather(1, t[:, None]).squeeze(1)


def input_gradient(model: nn.Module, x: torch.Tensor, target: Target) -> torch.Tensor:
    """d(target logit)/dx for each image (images do not interact in eval mode)."""
    check_input(x)
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        score = _picked(model(x), target).sum()
        (grad,) = torch.autograd.grad(score, x)
    return grad


def saliency(model: nn.Module, x: torch.Tensor, target: Target,
             absolute: bool = True) -> torch.Tensor:
    """Vanilla gradient saliency, |d logit / dx| (``absolute=False``: the signed gradient)."""
    grad = input_gradient(model, x, target)
    return grad.abs() if absolute else grad


def smoothgrad(model: nn.Module, x: torch.Tensor, target: Target, samples: int = 25,
               stdev: float = 0.15, absolute: bool = True,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """SmoothGrad: :func:`saliency` averaged over ``samples`` copies of each image with
    Gaussian noise of standard deviation ``stdev`` (input units) added.

    The noise is drawn in one call of shape (N * samples, C, H, W), image by image (each image's
    copies adjacent), as Captum's ``NoiseTunnel`` draws it, so the same seed gives the same map.
    """
    check_input(x)
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if stdev < 0:
        raise ValueError(f"stdev must be >= 0, got {stdev}")
    n = x.shape[0]
    noise = torch.normal(0.0, torch.full((n * samples, *x.shape[1:]), float(stdev)),
                         generator=generator).to(x.device, x.dtype)
    noisy = x.detach().repeat_interleave(samples, dim=0) + noise
    t = target_index(target, n, 1 << 62).repeat_interleave(samples)
    grads = saliency(model, noisy, t, absolute)
    return grads.view(n, samples, *x.shape[1:]).mean(dim=1)


def gradient_x_input(model: nn.Module, x: torch.Tensor, target: Target) -> torch.Tensor:
    """Gradient times input: the first-order contribution of each pixel relative to zero."""
    return input_gradient(model, x, target) * x.detach()


def window_starts(size: int, patch: int, stride: int) -> list[int]:
    """Top (or left) edges of the occlusion patches along one side of ``size`` pixels.

    ``ceil((size - patch) / stride) + 1`` patches, at 0, stride, 2·stride, ...: the last one may
    overhang the edge and is cut there, so every pixel is covered (Captum's convention).
    """
    if patch < 1 or patch > size:
        raise ValueError(f"patch must be between 1 and the image side {size}, got {patch}")
    if stride < 1 or (stride > patch and patch < size):
        raise ValueError(f"stride must be between 1 and the patch size {patch} "
                         f"(a larger stride leaves pixels never occluded), got {stride}")
    return [i * stride for i in range(math.ceil((size - patch) / stride) + 1)]


@torch.no_grad()
def occlusion(model: nn.Module, x: torch.Tensor, target: Target, patch: int = 4,
              stride: int = 2, baseline: float = 0.0, batch_size: int = 256) -> torch.Tensor:
    """Occlusion sensitivity: for each ``patch`` × ``patch`` square (all channels) placed every
    ``stride`` pixels, set it to ``baseline`` and record the drop of the target logit; a pixel's
    value is the mean drop over the patches that cover it. Shape of ``x``.
    """
    check_input(x)
    n, _, height, width = x.shape
    rows, cols = window_starts(height, patch, stride), window_starts(width, patch, stride)
    base = _picked(model(x), target)
    t = target_index(target, n, 1 << 62)
    total = torch.zeros_like(x)
    count = torch.zeros(1, 1, height, width, dtype=x.dtype, device=x.device)
    masks = patch_masks(x, rows, cols, patch)
    for start in range(0, len(masks), max(1, batch_size // n)):
        chunk = masks[start:start + max(1, batch_size // n)]                  # (P, 1, H, W)
        occluded = x[None] * (1 - chunk[:, None]) + baseline * chunk[:, None]  # (P, N, C, H, W)
        logits = model(occluded.flatten(0, 1))
        drop = base[None] - _picked(logits, t.repeat(len(chunk))).view(len(chunk), n)
        total += (drop[:, :, None, None, None] * chunk[:, None]).sum(0)
        count += chunk.sum(0, keepdim=True)[0]
    return total / count


def patch_masks(x: torch.Tensor, rows: list[int], cols: list[int], patch: int) -> torch.Tensor:
    """(P, 1, H, W): 1 inside each occlusion patch (row-major over ``rows`` x ``cols``)."""
    masks = torch.zeros(len(rows) * len(cols), 1, *x.shape[-2:], dtype=x.dtype, device=x.device)
    for i, (r, c) in enumerate((r, c) for r in rows for c in cols):
        masks[i, :, r:r + patch, c:c + patch] = 1
    return masks


def one_image_grid(x: torch.Tensor, patch: int, stride: int) -> tuple[list[int], list[int]]:
    """Check that ``x`` is one image (1, C, H, W) and return its patch starts (rows, cols)."""
    check_input(x)
    if x.shape[0] != 1:
        raise ValueError(f"x must hold one image, shape (1, C, H, W), got {tuple(x.shape)}")
    height, width = x.shape[-2:]
    return window_starts(height, patch, stride), window_starts(width, patch, stride)


def maps_from_drops(drop: torch.Tensor, masks: torch.Tensor, channels: int) -> torch.Tensor:
    """(classes, C, H, W) occlusion maps from every patch's logit drop ``drop`` (P, classes) and
    the patches ``masks`` (P, 1, H, W): each pixel's mean drop over the patches covering it."""
    maps = torch.einsum("pk,phw->khw", drop, masks[:, 0]) / masks.sum(0)   # (classes, H, W)
    return maps[:, None].expand(-1, channels, -1, -1).contiguous()


@torch.no_grad()
def occlusion_all_targets(model: nn.Module, x: torch.Tensor, patch: int = 4, stride: int = 2,
                          baseline: float = 0.0, batch_size: int = 256) -> torch.Tensor:
    """:func:`occlusion` of one image ``x`` (1, C, H, W) for every class at once: (classes, C,
    H, W), row k equal to ``occlusion(model, x, k, ...)``. The occluded forwards give all the
    logits anyway, so an explorer that switches the target needs no new forward pass."""
    rows, cols = one_image_grid(x, patch, stride)
    base = model(x)                                                    # (1, classes)
    masks = patch_masks(x, rows, cols, patch)                         # (P, 1, H, W)
    drops = []
    for start in range(0, len(masks), max(1, batch_size)):
        chunk = masks[start:start + batch_size]
        drops.append(base - model(x * (1 - chunk) + baseline * chunk))  # (p, classes)
    return maps_from_drops(torch.cat(drops), masks, x.shape[1])


def layer_activation_and_gradient(model: nn.Module, layer: nn.Module, x: torch.Tensor,
                                  target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """The output of ``layer`` (caught by a forward hook) and d(target logit)/d(that output)."""
    check_input(x)
    caught: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        caught.append(output)

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = model(x.detach())
            if not caught:
                raise ValueError(f"layer {type(layer).__name__} is not used by the model's "
                                 "forward pass")
            act = caught[-1]
            if not isinstance(act, torch.Tensor) or act.dim() != 4:
                shape = tuple(act.shape) if isinstance(act, torch.Tensor) else type(act)
                raise ValueError(f"layer must output spatial maps (N, C, H, W) for Grad-CAM; "
                                 f"{type(layer).__name__} gives {shape}")
            (grad,) = torch.autograd.grad(_picked(logits, target).sum(), act)
    finally:
        handle.remove()
    return act.detach(), grad


def grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target: Target,
             upsample: bool = True, mode: str = "bilinear") -> torch.Tensor:
    """Grad-CAM: ``relu(sum_k w_k A_k)`` with ``w_k`` the gradient of the target logit w.r.t.
    feature map ``A_k`` of ``layer``, averaged over space. (N, 1, h, w) at the layer's size, or
    upsampled to the input's (H, W) with ``F.interpolate(mode=mode)``.
    """
    act, grad = layer_activation_and_gradient(model, layer, x, target)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(dim=1, keepdim=True))
    if upsample:
        cam = F.interpolate(cam, size=x.shape[-2:], mode=mode)
    return cam


METHODS: dict[str, Callable[..., torch.Tensor]] = {
    "saliency": saliency, "smoothgrad": smoothgrad, "gradient×input": gradient_x_input,
    "occlusion": occlusion,
}


def attribute(method: str, model: nn.Module, x: torch.Tensor, target: Target,
              layer: nn.Module | None = None, **options) -> torch.Tensor:
    """One (N, 1, H, W) map per image by ``method`` (a key of :data:`METHODS` or "grad-cam",
    which needs ``layer``), summed over channels so every method can be drawn the same way."""
    if method == "grad-cam":
        if layer is None:
            raise ValueError("method 'grad-cam' needs a layer")
        return grad_cam(model, layer, x, target, **options)
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted([*METHODS, 'grad-cam'])}, "
                         f"got {method!r}")
    return METHODS[method](model, x, target, **options).sum(dim=1, keepdim=True)
