"""Numbers for "does max pooling keep edges sharp?": edge strength, fine detail, brightness.

All functions take a 2-D image (H, W) or (1, H, W) with values in [0, 1], except
:func:`feature_map_edges`, which asks the same question of a network's feature maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnedu.pooling import pool2d


def _plane(image: torch.Tensor) -> torch.Tensor:
    if image.dim() == 3 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 2:
        raise ValueError(f"expected an (H, W) or (1, H, W) image, got shape {tuple(image.shape)}")
    return image.float()


def edge_strength(image: torch.Tensor) -> float:
    """Mean gradient magnitude (central differences): how strong the edges are, per pixel."""
    plane = _plane(image)
    if min(plane.shape) < 3:
        return 0.0
    gy = plane[2:, 1:-1] - plane[:-2, 1:-1]
    gx = plane[1:-1, 2:] - plane[1:-1, :-2]
    return float(torch.sqrt(gx ** 2 + gy ** 2).mean() / 2)


def high_frequency_fraction(image: torch.Tensor) -> float:
    """Share of the (mean-removed) spectral power above half the Nyquist frequency: fine detail."""
    plane = _plane(image)
    plane = plane - plane.mean()
    power = torch.fft.fftshift(torch.fft.fft2(plane)).abs() ** 2
    height, width = plane.shape
    fy = torch.linspace(-1, 1, height)[:, None]
    fx = torch.linspace(-1, 1, width)[None, :]
    high = (fy.abs() > 0.5) | (fx.abs() > 0.5)
    total = float(power.sum())
    return float(power[high].sum()) / total if total > 0 else 0.0


def dark_detail_kept(image: torch.Tensor, pooled: torch.Tensor, threshold: float = 0.25) -> float:
    """Share of dark pixels (< ``threshold``) left after pooling, relative to the input's share.

    Max pooling lets any bright pixel in a window win, so thin dark lines and dark specks vanish;
    average pooling keeps them as grey. 1.0 means as many dark pixels as before.
    """
    before = float((_plane(image) < threshold).float().mean())
    after = float((_plane(pooled) < threshold).float().mean())
    return after / before if before > 0 else float("nan")


def subsample(image: torch.Tensor, kernel: int) -> torch.Tensor:
    """Every ``kernel``-th pixel: downsampling with no smoothing, the fair reference for pooling."""
    plane = _plane(image)
    return plane[::kernel, ::kernel][: plane.shape[0] // kernel, : plane.shape[1] // kernel]


def measure_pooling(image: torch.Tensor, kernel: int) -> dict[str, float]:
    """Pool ``image`` with max and avg (kernel = stride) and measure each against plain subsampling.

    Returns edge strength, high-frequency fraction, mean brightness and dark detail kept for
    "subsample", "max" and "avg" (keys like ``"edge_max"``).
    """
    plane = _plane(image)[None]
    results = {"subsample": subsample(plane, kernel),
               "max": pool2d(plane, kernel, mode="max")[0],
               "avg": pool2d(plane, kernel, mode="avg")[0]}
    row: dict[str, float] = {"kernel": kernel}
    for name, img in results.items():
        row[f"edge_{name}"] = edge_strength(img)
        row[f"hf_{name}"] = high_frequency_fraction(img)
        row[f"mean_{name}"] = float(img.mean())
        row[f"dark_{name}"] = dark_detail_kept(plane, img)
    return row


def shift_sensitivity(image: torch.Tensor, kernel: int, stride: int, mode: str,
                      shift: int = 1) -> float:
    """Mean absolute change of the pooled output when the input moves by ``shift`` pixels right.

    Relative to the mean absolute value of the output: 0 would be perfect shift invariance.
    """
    plane = _plane(image)[None]
    moved = F.pad(plane, (shift, 0))[..., : plane.shape[-1]]
    a = pool2d(plane, kernel, stride, mode=mode)
    b = pool2d(moved, kernel, stride, mode=mode)
    return float((a - b).abs().mean() / a.abs().mean().clamp_min(1e-12))


def feature_map_edges(maps: torch.Tensor, kernel: int) -> list[dict[str, float]]:
    """Section 3's edge question asked of a network's feature maps, one row per channel.

    ``maps`` is (N, C, H, W), e.g. a conv layer's output after ReLU (non-negative, often zero,
    in no fixed range: edge strength is compared as a ratio, which does not care about scale).
    For every image and channel, max and average pooling (kernel = stride) are measured against
    plain subsampling as :func:`measure_pooling` does; planes that are zero everywhere (a channel
    silent on that image) have no edges to compare and are left out. Each row holds the channel,
    how many planes were compared, the mean edge ratios max/subsampling and avg/subsampling, the
    share of planes where max pooling's edges beat average pooling's, and the share of zeros in
    the maps (how sparse the channel is).
    """
    if maps.dim() != 4:
        raise ValueError(f"maps must be (N, C, H, W), got shape {tuple(maps.shape)}")
    rows = []
    for c in range(maps.shape[1]):
        ratios_max, ratios_avg, max_wins = [], [], 0
        for plane in maps[:, c]:
            r = measure_pooling(plane, kernel)
            if r["edge_subsample"] == 0:
                continue
            ratios_max.append(r["edge_max"] / r["edge_subsample"])
            ratios_avg.append(r["edge_avg"] / r["edge_subsample"])
            max_wins += r["edge_max"] > r["edge_avg"]
        n = len(ratios_max)
        rows.append({"channel": c, "planes": n,
                     "edge_max": sum(ratios_max) / n if n else float("nan"),
                     "edge_avg": sum(ratios_avg) / n if n else float("nan"),
                     "max_beats_avg": max_wins / n if n else float("nan"),
                     "zeros": float((maps[:, c] == 0).float().mean())})
    return rows
