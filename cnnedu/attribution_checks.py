"""Are attribution maps telling the truth? Two measured checks from the literature.

* :func:`cascading_randomization`: the model-randomisation sanity check of Adebayo et al.
  (2018). Re-initialise the layers from the top (output) down, one more at a time, and measure
  how similar each method's map stays to the trained model's (Spearman rank correlation of the
  absolute maps). A method whose map hardly changes when the weights are destroyed explains
  the image, not the model.
* :func:`deletion_curve` (Petsiuk et al. 2018, "RISE"): delete the most-attributed pixels first
  and follow the probability of the true class; a faithful map makes it fall fast (small area
  under the curve), faster than deleting pixels in random order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn

MapFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks along the last dimension (0 = smallest), ties given their average rank."""
    order = values.argsort(dim=-1, stable=True)
    r = torch.empty_like(values, dtype=torch.float64)
    r.scatter_(-1, order, torch.arange(values.shape[-1], dtype=torch.float64)
               .expand_as(values).contiguous())
    flat_v, flat_r = values.reshape(-1, values.shape[-1]), r.view(-1, values.shape[-1])
    for row in range(flat_v.shape[0]):                       # average the ranks of ties
        uniq, inverse, counts = flat_v[row].unique(return_inverse=True, return_counts=True)
        if len(uniq) < flat_v.shape[1]:
            sums = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, flat_r[row])
            flat_r[row] = (sums / counts)[inverse]
    return r


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation between ``a[i]`` and ``b[i]`` (each flattened), shape (N,)."""
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    ra, rb = ranks(a.flatten(1).double()), ranks(b.flatten(1).double())
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp(min=1e-12)


def reinitialise(module: nn.Module) -> None:
    """Fresh random parameters (and BatchNorm statistics) for every part of ``module``."""
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()


def cascading_randomization(model: nn.Module, layers_top_down: Sequence[str],
                            methods: dict[str, MapFn], x: torch.Tensor, y: torch.Tensor,
                            seed: int = 0) -> dict[str, list[float]]:
    """For each method, the mean (over images) Spearman correlation between the trained
    model's absolute map and the map after re-initialising ``layers_top_down[:k]``, for
    k = 1 .. len(layers_top_down). ``model`` itself is left unchanged."""
    trained = {name: fn(model, x, y).abs() for name, fn in methods.items()}
    result: dict[str, list[float]] = {name: [] for name in methods}
    randomised = copy.deepcopy(model).eval()
    torch.manual_seed(seed)
    for layer in layers_top_down:
        reinitialise(randomised.get_submodule(layer))
        for name, fn in methods.items():
            result[name].append(float(spearman(trained[name], fn(randomised, x, y).abs()).mean()))
    return result


@torch.no_grad()
def deletion_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor, maps: torch.Tensor,
                   fractions: Sequence[float], baseline: float = 0.0) -> torch.Tensor:
    """Probability of the true class ``y`` after setting the ``fraction`` most-attributed
    pixels of each image (by ``maps``, (N, 1, H, W)) to ``baseline``; shape (N, len(fractions)).
    Ties in a map are broken by pixel order."""
    if maps.shape[0] != x.shape[0] or maps.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"maps must be (N, 1, H, W) like x {tuple(x.shape)}, "
                         f"got {tuple(maps.shape)}")
    n, pixels = x.shape[0], x.shape[-2] * x.shape[-1]
    order = maps.flatten(1).argsort(dim=1, descending=True, stable=True)
    out = []
    for f in fractions:
        if not 0 <= f <= 1:
            raise ValueError(f"fractions must lie in [0, 1], got {f}")
        mask = torch.zeros(n, pixels, dtype=torch.bool)
        mask.scatter_(1, order[:, :round(f * pixels)], True)
        deleted = torch.where(mask.view(n, 1, *x.shape[-2:]), torch.tensor(baseline), x)
        probs = model(deleted).softmax(1)
        out.append(probs.gather(1, y[:, None]).squeeze(1))
    return torch.stack(out, dim=1)


def area_under(curves: torch.Tensor, fractions: Sequence[float]) -> torch.Tensor:
    """Trapezoid area of each row of ``curves`` over ``fractions``, shape (N,)."""
    return torch.trapezoid(curves, torch.tensor(list(fractions), dtype=curves.dtype), dim=1)
