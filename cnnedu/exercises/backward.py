"""The backward-pass exercises of lessons 01-03: max pooling, convolution and BatchNorm.

Each is checked against autograd's gradient of PyTorch's own operation (``F.max_pool2d``,
``F.conv2d``, ``F.batch_norm``) on several cases: overlapping windows, padding, stride 2,
batch size 1. The cases have no ties, so every correct answer gives the same numbers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .functions import Case, Exercise, Mistake
from .registry import register

# ----------------------------------------------------------------------------- 01.5 max pool


def max_pool2d_backward(x: torch.Tensor, grad_out: torch.Tensor, kernel_size: int, stride: int,
                        padding: int = 0) -> torch.Tensor:
    """dL/dx of max pooling: each output's gradient goes to its window's maximum."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, value=float("-inf"))         # padding never wins
    windows = padded.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride)
    flat = windows.flatten(-2)                                      # (N, C, H_out, W_out, k*k)
    winner = F.one_hot(flat.argmax(-1), kernel_size * kernel_size)  # 1 at each window's max
    routed = winner * grad_out[..., None]                           # gradient at that place only
    columns = routed.permute(0, 1, 4, 2, 3).reshape(n, c * kernel_size ** 2, -1)
    # fold puts every window back where it came from, ADDING where windows overlap,
    # and drops what lands on the padding
    return F.fold(columns, (h, w), kernel_size, padding=padding, stride=stride)


def _autograd_max_pool(x, grad_out, k, s, p=0):
    x = x.clone().requires_grad_(True)
    F.max_pool2d(x, k, s, p).backward(grad_out)
    return x.grad


def _pool_cases() -> list[Case]:
    def case(shape, k, s, p, label):
        x = torch.randperm(torch.Size(shape).numel()).float().reshape(shape) / 10 - 3  # no ties
        grad_out = torch.randn(F.max_pool2d(x, k, s, p).shape)
        return Case(f"x of shape {shape}, kernel_size={k}, stride={s}, padding={p} ({label})",
                    (x, grad_out, k, s, p))

    return [case((1, 1, 4, 4), 2, 2, 0, "windows side by side"),
            case((2, 3, 6, 6), 2, 2, 0, "batch and channels"),
            case((1, 2, 7, 7), 3, 2, 1, "overlapping windows and padding"),
            case((2, 1, 5, 8), 3, 1, 1, "stride 1: heavy overlap"),
            case((1, 1, 9, 9), 3, 2, 0, "stride 2, the last row and column unused")]


def _every_element(x, grad_out, k, s, p=0):
    x = x.clone().requires_grad_(True)
    (F.avg_pool2d(x, k, s, p, count_include_pad=True) * k * k).backward(grad_out)
    return x.grad


def _overwritten(x, grad_out, k, s, p=0):
    n, c, h, w = x.shape
    padded = F.pad(x, (p,) * 4, value=float("-inf"))
    grad = torch.zeros_like(padded)
    out_h, out_w = grad_out.shape[-2:]
    for r in range(out_h):
        for col in range(out_w):
            window = padded[:, :, r * s:r * s + k, col * s:col * s + k].flatten(2)
            best = window.argmax(-1)
            i, j = best // k, best % k
            rows, cols = r * s + i, col * s + j
            for b in range(n):
                for ch in range(c):
                    grad[b, ch, rows[b, ch], cols[b, ch]] = grad_out[b, ch, r, col]   # = not +=
    return grad[:, :, p:p + h, p:p + w]


def _avg_backward(x, grad_out, k, s, p=0):
    x = x.clone().requires_grad_(True)
    F.avg_pool2d(x, k, s, p).backward(grad_out)
    return x.grad


def _mask_only(x, grad_out, k, s, p=0):
    return _autograd_max_pool(x, torch.ones_like(grad_out), k, s, p)


# ----------------------------------------------------------------------------- 02.5 conv


def conv2d_backward(x: torch.Tensor, weight: torch.Tensor, grad_out: torch.Tensor,
                    stride: int = 1, padding: int = 0):
    """(dx, dw, db) of ``F.conv2d(x, weight, bias, stride, padding)``, from unfold + matmul."""
    n, c_out = x.shape[0], weight.shape[0]
    k = weight.shape[-1]
    cols = F.unfold(x, k, padding=padding, stride=stride)         # (N, C_in*k*k, L)
    d_y = grad_out.reshape(n, c_out, -1)                           # (N, C_out, L)
    dw = (d_y @ cols.transpose(1, 2)).sum(0).reshape(weight.shape)  # dY · colsᵀ, summed over N
    d_cols = weight.reshape(c_out, -1).t() @ d_y                   # Wᵀ · dY
    dx = F.fold(d_cols, x.shape[-2:], k, padding=padding, stride=stride)  # overlaps add up
    db = grad_out.sum(dim=(0, 2, 3))
    return dx, dw, db


def _autograd_conv(x, weight, grad_out, stride=1, padding=0):
    x, weight = x.clone().requires_grad_(True), weight.clone().requires_grad_(True)
    bias = torch.zeros(weight.shape[0], requires_grad=True)
    F.conv2d(x, weight, bias, stride, padding).backward(grad_out)
    return x.grad, weight.grad, bias.grad


def _conv_cases() -> list[Case]:
    def case(x_shape, w_shape, s, p, label):
        x, weight = torch.randn(*x_shape), torch.randn(*w_shape)
        grad_out = torch.randn(F.conv2d(x, weight, None, s, p).shape)
        return Case(f"x of shape {x_shape}, weight of shape {w_shape}, stride={s}, padding={p} "
                    f"({label})", (x, weight, grad_out, s, p))

    return [case((2, 2, 6, 6), (8, 2, 2, 2), 1, 0, "W flattened is square: 8 x 8"),
            case((1, 1, 5, 5), (1, 1, 3, 3), 1, 0, "one channel"),
            case((2, 3, 8, 8), (4, 3, 3, 3), 1, 1, "padding"),
            case((1, 3, 9, 7), (2, 3, 3, 3), 2, 1, "stride 2 and padding"),
            case((3, 2, 6, 6), (2, 2, 3, 3), 1, 1, "C_in = C_out")]


def _conv_no_transpose(x, weight, grad_out, stride=1, padding=0):
    """dcols = W @ dY instead of Wᵀ @ dY (only computable when W is square)."""
    _, dw, db = _autograd_conv(x, weight, grad_out, stride, padding)
    w_mat = weight.reshape(weight.shape[0], -1)
    d_cols = w_mat @ grad_out.reshape(x.shape[0], weight.shape[0], -1)
    return F.fold(d_cols, x.shape[-2:], weight.shape[-1], padding=padding, stride=stride), dw, db


def _conv_no_flip(x, weight, grad_out, stride=1, padding=0):
    """dx as a full convolution (stride 1) with the channels swapped but the kernel not rotated."""
    _, dw, db = _autograd_conv(x, weight, grad_out, stride, padding)
    k = weight.shape[-1]
    return F.conv2d(grad_out, weight.transpose(0, 1), padding=k - 1 - padding), dw, db


def _conv_batch_mean(x, weight, grad_out, stride=1, padding=0):
    dx, dw, db = _autograd_conv(x, weight, grad_out, stride, padding)
    return dx, dw / x.shape[0], db / x.shape[0]


# ----------------------------------------------------------------------------- 03.5 BatchNorm


def batchnorm_backward(x: torch.Tensor, gamma: torch.Tensor, grad_out: torch.Tensor,
                       eps: float = 1e-5):
    """(dx, dgamma, dbeta) of BatchNorm in training mode (statistics over dims 0, 2, 3)."""
    def per_channel(v):
        return v[None, :, None, None]
    mean = x.mean(dim=(0, 2, 3))
    var = x.var(dim=(0, 2, 3), unbiased=False)
    inv_std = 1 / torch.sqrt(var + eps)
    x_hat = (x - per_channel(mean)) * per_channel(inv_std)
    dbeta = grad_out.sum(dim=(0, 2, 3))
    dgamma = (grad_out * x_hat).sum(dim=(0, 2, 3))
    m = x.numel() // x.shape[1]                            # values per channel
    dx = per_channel(gamma * inv_std) * (grad_out - per_channel(dbeta / m)     # mean's path
                                         - x_hat * per_channel(dgamma / m))    # variance's path
    return dx, dgamma, dbeta


def _autograd_bn(x, gamma, grad_out, eps=1e-5):
    x, gamma = x.clone().requires_grad_(True), gamma.clone().requires_grad_(True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    F.batch_norm(x, None, None, gamma, beta, True, 0.1, eps).backward(grad_out)
    return x.grad, gamma.grad, beta.grad


def _bn_cases() -> list[Case]:
    def case(shape, eps=1e-5):
        x = 3 + 2 * torch.randn(*shape)
        gamma = 1 + 0.5 * torch.randn(shape[1])
        extra = {} if eps == 1e-5 else {"eps": eps}
        label = f"x of shape {shape} (mean 3, std 2), random gamma" + \
            (f", eps={eps}" if extra else "")
        return Case(label, (x, gamma, torch.randn(*shape)), extra)

    return [case((4, 3, 5, 5)), case((1, 2, 4, 4)), case((8, 4, 1, 1)),
            case((2, 5, 3, 7), eps=0.1)]


def _bn_variant(mean_path=True, var_path=True, use_gamma=True, unbiased=False):
    def variant(x, gamma, grad_out, eps=1e-5):
        dims = (0, 2, 3)
        m = x.numel() // x.shape[1]
        var = x.var(dim=dims, unbiased=unbiased)
        inv_std = (1 / torch.sqrt(var + eps))[None, :, None, None]
        x_hat = (x - x.mean(dim=dims, keepdim=True)) * inv_std
        dbeta, dgamma = grad_out.sum(dims), (grad_out * x_hat).sum(dims)
        dx = grad_out.clone()
        if mean_path:
            dx = dx - (dbeta / m)[None, :, None, None]
        if var_path:
            dx = dx - x_hat * (dgamma / m)[None, :, None, None]
        scale = gamma[None, :, None, None] * inv_std if use_gamma else inv_std
        return scale * dx, dgamma, dbeta
    return variant


register(
    Exercise(
        id="01.5", name="max_pool2d_backward", reference=max_pool2d_backward,
        truth=_autograd_max_pool, against="autograd's gradient of F.max_pool2d",
        cases=_pool_cases,
        explanation="Only the maximum of each window changed the output, so only it gets that "
                    "output's gradient. Find each window's winner (argmax over its k*k values, "
                    "after padding with -inf so padding never wins), put grad_out there and 0 "
                    "elsewhere, then fold the windows back: F.fold adds where windows overlap "
                    "and drops the padding.",
        mistakes=[
            Mistake("only the window's maximum influenced the output: give the gradient to that "
                    "one element, not to every element of the window.", _every_element),
            Mistake("where windows overlap, one pixel can win several windows: its gradient is "
                    "the SUM of theirs (+=, or F.fold), not the last one written.", _overwritten),
            Mistake("spreading the gradient evenly over the window is average pooling's "
                    "backward; max pooling sends all of it to the maximum.", _avg_backward),
            Mistake("the routed values must be grad_out's, not 1: multiply the winner mask by "
                    "grad_out.", _mask_only),
        ],
        more="work on windows of shape (N, C, H_out, W_out, k*k): argmax over the last axis, "
             "F.one_hot, times grad_out[..., None]; then permute to (N, C*k*k, L) for F.fold.",
    ),
    Exercise(
        id="02.5", name="conv2d_backward", reference=conv2d_backward, truth=_autograd_conv,
        against="autograd's gradients of F.conv2d (input, weight, bias)", cases=_conv_cases,
        output_names=("dx", "dw", "db"),
        explanation="With cols = unfold(x) and Y = W @ cols + b: dW = dY @ colsᵀ summed over the "
                    "batch, dcols = Wᵀ @ dY folded back into dx (fold adds the overlapping "
                    "windows and drops the padding), and db = dY summed over batch and "
                    "positions. dx is a transposed convolution of dY with the same weights.",
        mistakes=[
            Mistake("a missing transpose: the gradient of W @ cols with respect to cols is "
                    "Wᵀ @ dY (weight.reshape(C_out, -1).t()).",
                    _conv_no_transpose),
            Mistake("written as a convolution, dx uses the kernel rotated 180° "
                    "(flip both spatial axes) and the channel axes swapped.",
                    _conv_no_flip),
            Mistake("the weights and the bias are shared by every image of the batch: their "
                    "gradients are SUMS over the batch (and all positions), not means.",
                    _conv_batch_mean),
        ],
        more="print the shapes: cols (N, C_in*k*k, L), dY (N, C_out, L), W (C_out, C_in*k*k). "
             "Each gradient has the shape of what it is the gradient of.",
    ),
    Exercise(
        id="03.5", name="batchnorm_backward", reference=batchnorm_backward, truth=_autograd_bn,
        against="autograd's gradients of F.batch_norm in training mode", cases=_bn_cases,
        output_names=("dx", "dgamma", "dbeta"),
        explanation="dbeta = Σ g and dgamma = Σ g·x̂ per channel. Every x also moves its "
                    "channel's mean and variance, so dx has two more terms: "
                    "dx = γ/σ · (g − mean(g) − x̂·mean(g·x̂)), with σ = sqrt(var + eps) and the "
                    "means taken per channel over (N, H, W).",
        mistakes=[
            Mistake("the mean's path is missing: x also moves the batch mean, which subtracts "
                    "mean(g) per channel (so dx sums to 0 per channel).",
                    _bn_variant(mean_path=False)),
            Mistake("the variance's path is missing: x also moves the batch variance, which "
                    "subtracts x̂ · mean(g · x̂) per channel.", _bn_variant(var_path=False)),
            Mistake("the batch statistics are not constants: x moves the mean AND the variance; "
                    "dx = γ/σ · (g − mean(g) − x̂·mean(g·x̂)).",
                    _bn_variant(mean_path=False, var_path=False)),
            Mistake("the output is γ·x̂ + β: dx carries the factor γ.", _bn_variant(use_gamma=False)),
            Mistake("training-mode BatchNorm normalises with the biased variance (divide by m).",
                    _bn_variant(unbiased=True)),
        ],
        more="write x̂ = (x − mean)/σ first; then dbeta, dgamma, and dx from the formula in the "
             "lesson, all per channel (reduce over dims 0, 2, 3).",
    ),
)
