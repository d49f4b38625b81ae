"""Lesson 03 (BatchNorm): its forward pass in training and in evaluation mode."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .functions import Case, Exercise, Mistake, difference
from .registry import Numeric, register


def batchnorm_train(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                    running_mean: torch.Tensor, running_var: torch.Tensor,
                    momentum: float = 0.1, eps: float = 1e-5):
    """BatchNorm in training mode: returns (output, new running_mean, new running_var)."""
    mean = x.mean(dim=(0, 2, 3))                          # one mean per channel
    var = x.var(dim=(0, 2, 3), unbiased=False)            # normalise with the biased variance
    x_hat = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + eps)
    out = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
    n = x.numel() // x.shape[1]                           # values per channel
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)   # stored unbiased
    return out, new_mean, new_var


def batchnorm_eval(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                   running_mean: torch.Tensor, running_var: torch.Tensor,
                   eps: float = 1e-5) -> torch.Tensor:
    """BatchNorm in evaluation mode: normalise with the running statistics."""
    def per_channel(v):
        return v[None, :, None, None]
    x_hat = (x - per_channel(running_mean)) / torch.sqrt(per_channel(running_var) + eps)
    return per_channel(gamma) * x_hat + per_channel(beta)


def _torch_train(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    running_mean, running_var = running_mean.clone(), running_var.clone()
    out = F.batch_norm(x, running_mean, running_var, gamma, beta, True, momentum, eps)
    return out, running_mean, running_var


def _torch_eval(x, gamma, beta, running_mean, running_var, eps=1e-5):
    return F.batch_norm(x, running_mean, running_var, gamma, beta, False, 0.0, eps)


def _inputs(shape, scale=2.0, shift=3.0):
    c = shape[1]
    x = shift + scale * torch.randn(*shape)
    return (x, 1 + 0.5 * torch.randn(c), torch.randn(c), torch.randn(c), 0.2 + torch.rand(c))


def _label(shape, **settings):
    extra = "".join(f", {k}={v}" for k, v in settings.items())
    return f"x of shape {shape} (mean 3, std 2), random gamma, beta and running statistics{extra}"


def _train_cases() -> list[Case]:
    return [Case(_label((4, 3, 5, 5)), _inputs((4, 3, 5, 5))),
            Case(_label((1, 2, 4, 4)), _inputs((1, 2, 4, 4))),
            Case(_label((8, 4, 1, 1)), _inputs((8, 4, 1, 1))),
            Case(_label((2, 5, 3, 7), momentum=0.5, eps=1e-3),
                 _inputs((2, 5, 3, 7)), dict(momentum=0.5, eps=1e-3))]


def _eval_cases() -> list[Case]:
    cases = [Case(_label((4, 3, 5, 5)), _inputs((4, 3, 5, 5))),
             Case(_label((1, 2, 4, 4)), _inputs((1, 2, 4, 4)))]
    small = list(_inputs((2, 3, 3, 3)))
    small[4] = torch.full((3,), 1e-3)
    cases.append(Case(_label((2, 3, 3, 3), eps=0.01) + ", running_var 0.001", tuple(small),
                      dict(eps=0.01)))
    return cases


def _per_channel(v):
    return v[None, :, None, None]


def _train_variant(unbiased_norm=False, biased_running=False, swapped_momentum=False,
                   affine=True):
    def variant(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
        mean = x.mean(dim=(0, 2, 3))
        n = x.numel() // x.shape[1]
        biased = x.var(dim=(0, 2, 3), unbiased=False)
        var = biased * n / (n - 1) if unbiased_norm else biased
        out = (x - _per_channel(mean)) / torch.sqrt(_per_channel(var) + eps)
        if affine:
            out = _per_channel(gamma) * out + _per_channel(beta)
        m = 1 - momentum if swapped_momentum else momentum
        stored = biased if biased_running else biased * n / (n - 1)
        return out, (1 - m) * running_mean + m * mean, (1 - m) * running_var + m * stored
    return variant


def _per_sample(case, expected, got):
    x, gamma, beta = case.args[:3]
    eps = case.kwargs.get("eps", 1e-5)
    instance = F.instance_norm(x, weight=gamma, bias=beta, eps=eps)
    out = got[0] if isinstance(got, (tuple, list)) else got
    return isinstance(out, torch.Tensor) and not difference(instance, out)


_EPS_HINT = "add eps inside the square root: sqrt(running_var + eps)."
_PER_CHANNEL_HINT = ("the statistics are per channel, over the batch and all positions: reduce "
                     "over dims (0, 2, 3), not per image.")

register(
    Exercise(
        id="03.1", name="batchnorm_train", reference=batchnorm_train, truth=_torch_train,
        against="F.batch_norm(training=True) and its updated running statistics",
        cases=_train_cases, output_names=("output", "running_mean", "running_var"),
        explanation="Per channel (dims 0, 2, 3): normalise with the batch mean and the biased "
                    "variance (divide by n), then scale by gamma and shift by beta. The running "
                    "statistics move a fraction `momentum` towards the batch's, and the running "
                    "variance stores the unbiased variance (divide by n - 1).",
        mistakes=[
            Mistake("normalise with the biased variance (divide by n, unbiased=False); only the "
                    "running variance stores the unbiased one.",
                    _train_variant(unbiased_norm=True)),
            Mistake("the running variance stores the *unbiased* variance of the batch "
                    "(divide by n - 1), while normalisation uses the biased one.",
                    _train_variant(biased_running=True)),
            Mistake("PyTorch's momentum is the weight of the *new* batch: "
                    "running = (1 - momentum) * running + momentum * batch.",
                    _train_variant(swapped_momentum=True)),
            Mistake("after normalising, scale by gamma and shift by beta (one of each per "
                    "channel).", _train_variant(affine=False)),
            Mistake(_PER_CHANNEL_HINT, detect=_per_sample),
        ],
        more="return three tensors: the output (same shape as x) and the two new running "
             "statistics, each of shape (C,). Do not change the inputs in place.",
    ),
    Exercise(
        id="03.2", name="batchnorm_eval", reference=batchnorm_eval, truth=_torch_eval,
        against="F.batch_norm(training=False)", cases=_eval_cases,
        explanation="In evaluation mode nothing is computed from the batch: normalise with the "
                    "stored running mean and running variance, then scale and shift. So an "
                    "image's output does not depend on the other images in its batch.",
        mistakes=[
            Mistake("in evaluation mode use the running statistics, not the batch's own mean and "
                    "variance.",
                    lambda x, g, b, rm, rv, eps=1e-5: F.batch_norm(x, None, None, g, b, True,
                                                                  0.0, eps)),
            Mistake("divide by the standard deviation sqrt(var + eps), not by the variance.",
                    lambda x, g, b, rm, rv, eps=1e-5:
                    _per_channel(g) * (x - _per_channel(rm)) / (_per_channel(rv) + eps)
                    + _per_channel(b)),
            Mistake(_EPS_HINT,
                    lambda x, g, b, rm, rv, eps=1e-5:
                    _per_channel(g) * (x - _per_channel(rm)) / torch.sqrt(_per_channel(rv))
                    + _per_channel(b)),
            Mistake(_EPS_HINT,
                    lambda x, g, b, rm, rv, eps=1e-5:
                    _per_channel(g) * (x - _per_channel(rm)) / (torch.sqrt(_per_channel(rv)) + eps)
                    + _per_channel(b)),
            Mistake("after normalising, scale by gamma and shift by beta.",
                    lambda x, g, b, rm, rv, eps=1e-5:
                    (x - _per_channel(rm)) / torch.sqrt(_per_channel(rv) + eps)),
            Mistake(_PER_CHANNEL_HINT, detect=_per_sample),
        ],
        more="per-channel vectors of shape (C,) broadcast against x of shape (N, C, H, W) once "
             "reshaped to (1, C, 1, 1).",
    ),
    Numeric("03.3", "answer_1 = 128",
            "BatchNorm2d(64) learns one scale (gamma) and one shift (beta) per channel: "
            "2 * 64 = 128. The running mean and variance are buffers, updated without gradients."),
    Numeric("03.4", "answer_2 = 0.5",
            "running_mean = (1 - momentum) * running_mean + momentum * batch_mean "
            "= 0.9 * 0 + 0.1 * 5 = 0.5."),
)
