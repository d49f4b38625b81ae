"""Where a classifier fails: confusion matrix, per-class accuracy, most-confused pairs, and
calibration (reliability diagram and expected calibration error, Guo et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


def _labels(y: torch.Tensor, name: str, classes: int) -> torch.Tensor:
    y = torch.as_tensor(y).long().flatten()
    if len(y) and ((y < 0).any() or (y >= classes).any()):
        raise ValueError(f"{name} must lie in [0, {classes}), got values "
                         f"{int(y.min())}..{int(y.max())}")
    return y


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, classes: int) -> torch.Tensor:
    """Counts (classes, classes): row = true class, column = predicted class (sklearn's order)."""
    t, p = _labels(y_true, "y_true", classes), _labels(y_pred, "y_pred", classes)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(t)} and {len(p)}")
    return torch.bincount(t * classes + p, minlength=classes * classes).view(classes, classes)


def row_normalised(matrix: torch.Tensor) -> torch.Tensor:
    """Each row divided by its sum (the share of a true class predicted as each class); rows of
    a class with no images stay 0."""
    rows = matrix.sum(dim=1, keepdim=True).clamp(min=1)
    return matrix.double() / rows


def per_class_accuracy(matrix: torch.Tensor) -> torch.Tensor:
    """Recall of each class: the diagonal over the row sums (NaN for a class with no images)."""
    rows = matrix.sum(dim=1).double()
    return torch.where(rows > 0, matrix.diag().double() / rows.clamp(min=1),
                       torch.tensor(float("nan"), dtype=torch.float64))


def most_confused(matrix: torch.Tensor, names: list[str] | None = None,
                  top: int = 5) -> list[tuple[str | int, str | int, int]]:
    """The ``top`` off-diagonal cells by count, as ``(true, predicted, count)``, largest first
    (ties: in row-major order); class names instead of indices when ``names`` is given."""
    off = matrix.clone()
    off.fill_diagonal_(-1)
    flat = off.flatten()
    order = torch.argsort(-flat, stable=True)[:top]
    k = matrix.shape[0]
    label = (lambda i: names[i]) if names else (lambda i: i)
    return [(label(int(i) // k), label(int(i) % k), int(flat[i])) for i in order if flat[i] > 0]


@dataclass
class Reliability:
    """Per confidence bin (equal width on [0, 1]): images, mean confidence, accuracy."""

    edges: torch.Tensor        # (bins + 1,)
    count: torch.Tensor        # (bins,)
    confidence: torch.Tensor   # (bins,), NaN where empty
    accuracy: torch.Tensor     # (bins,), NaN where empty
    ece: float                 # sum over bins of count/N * |accuracy - confidence|


def reliability(probs: torch.Tensor, y_true: torch.Tensor, bins: int = 15) -> Reliability:
    """Bin each prediction by its confidence (top probability) into ``bins`` bins
    ((lo, hi], the first also holding 0) and compare accuracy with confidence in each; the
    expected calibration error is their gap averaged with the bins' image counts as weights.
    """
    if probs.dim() != 2:
        raise ValueError(f"probs must be (N, classes), got {tuple(probs.shape)}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    y = _labels(y_true, "y_true", probs.shape[1])
    conf, pred = probs.double().max(dim=1)
    correct = (pred == y).double()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    which = (torch.bucketize(conf, edges[1:-1], right=False)).clamp(0, bins - 1)
    count = torch.bincount(which, minlength=bins)
    safe = count.clamp(min=1).double()
    mean_conf = torch.bincount(which, conf, minlength=bins) / safe
    mean_acc = torch.bincount(which, correct, minlength=bins) / safe
    ece = float((count / len(y) * (mean_acc - mean_conf).abs()).sum())
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    return Reliability(edges, count, torch.where(count > 0, mean_conf, nan),
                       torch.where(count > 0, mean_acc, nan), ece)


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Softmax probabilities (N, classes) of ``model`` (in eval mode) on ``x``, in batches."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size]).softmax(1)
                      for i in range(0, len(x), batch_size)])
