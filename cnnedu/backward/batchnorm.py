"""BatchNorm's training-mode backward by hand, and the from-scratch ``BatchNorm2d`` using it.

Per channel, over its m = N*H*W values: ``x̂ = (x - μ) / σ`` with ``σ = sqrt(var + eps)`` (the
biased variance), ``y = γ x̂ + β``. With ``g = dL/dy``:

* ``dβ = Σ g`` and ``dγ = Σ g x̂``;
* ``dx = (γ / σ) · (g - mean(g) - x̂ · mean(g x̂))``.

The two subtracted terms are the paths through the batch mean μ and the batch variance: every
x moves μ and σ, and so every other output of its channel. Because ``Σ x̂ = 0`` and
``Σ x̂² = m``, the gradient is orthogonal to both the constant and ``x̂`` itself: ``Σ dx = 0``
per channel (shifting a whole channel changes nothing after normalisation) and
``Σ dx · x̂ = 0`` (nor does scaling it, up to eps).
"""

from __future__ import annotations

import torch

from cnnedu.layers import BatchNorm2d

_DIMS = (0, 2, 3)


def _channel(v: torch.Tensor) -> torch.Tensor:
    return v[None, :, None, None]


def _statistics(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel mean, biased variance and x̂ (centred squares: faster than ``var`` on a CPU)."""
    mean = x.mean(_DIMS)
    centred = x - _channel(mean)
    var = (centred * centred).mean(_DIMS)
    return mean, var, centred * _channel(torch.rsqrt(var + eps))


def _input_gradient(x_hat, inv_std, gamma, grad_out):
    """dx = (γ / σ) (g - mean(g) - x̂ mean(g x̂)), plus dγ and dβ, from the saved x̂ and 1/σ."""
    dbeta = grad_out.sum(_DIMS)
    dgamma = (grad_out * x_hat).sum(_DIMS)
    m = grad_out.numel() // grad_out.shape[1]
    scale = inv_std if gamma is None else gamma * inv_std
    dx = _channel(scale) * (grad_out - _channel(dbeta / m) - x_hat * _channel(dgamma / m))
    return dx, dgamma, dbeta


def batchnorm_backward(x: torch.Tensor, gamma: torch.Tensor | None, grad_out: torch.Tensor,
                       eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dgamma, dbeta) of training-mode BatchNorm of ``x`` (N, C, H, W) with batch statistics.

    ``gamma`` (C,) may be None (no affine: gamma = 1). ``grad_out`` has ``x``'s shape.
    """
    if x.dim() != 4 or grad_out.shape != x.shape:
        raise ValueError(f"x must be (N, C, H, W) and grad_out the same shape, got "
                         f"{tuple(x.shape)} and {tuple(grad_out.shape)}")
    if x.numel() // x.shape[1] <= 1:
        raise ValueError(f"BatchNorm needs more than 1 value per channel, got shape "
                         f"{tuple(x.shape)}")
    _, var, x_hat = _statistics(x, eps)
    return _input_gradient(x_hat, torch.rsqrt(var + eps), gamma, grad_out)


class BatchNorm2dFunction(torch.autograd.Function):
    """Training-mode ``γ x̂ + β`` with the hand-written gradient of :func:`batchnorm_backward`.

    Returns (output, batch mean, biased batch variance); the statistics carry no gradient (they
    feed the running statistics only).
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        mean, var, x_hat = _statistics(x, eps)
        inv_std = torch.rsqrt(var + eps)
        ctx.save_for_backward(x_hat, inv_std, gamma)
        ctx.mark_non_differentiable(mean, var)
        return x_hat * _channel(gamma) + _channel(beta), mean, var

    @staticmethod
    def backward(ctx, grad_out, _grad_mean, _grad_var):
        x_hat, inv_std, gamma = ctx.saved_tensors
        dx, dgamma, dbeta = _input_gradient(x_hat, inv_std, gamma, grad_out)
        return dx, dgamma, dbeta, None


class HandBatchNorm2d(BatchNorm2d):
    """The course's from-scratch ``BatchNorm2d`` whose training-mode gradient is hand-written.

    Same parameters, buffers and running statistics as :class:`cnnedu.layers.BatchNorm2d` (so
    state dicts load either way); in eval mode it is the parent's affine map of the running
    statistics, whose gradient autograd computes.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        self._check(x)
        count = x.numel() // x.shape[1]
        if count <= 1:
            raise ValueError(f"BatchNorm2d needs more than 1 value per channel when training, "
                             f"got input shape {tuple(x.shape)}")
        ones = torch.ones(self.num_features, dtype=x.dtype, device=x.device)
        gamma = self.weight if self.affine else ones
        beta = self.bias if self.affine else torch.zeros_like(ones)
        out, mean, var = BatchNorm2dFunction.apply(x, gamma, beta, self.eps)
        self.update_running_stats(mean, var, count)
        return out
