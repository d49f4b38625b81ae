"""Each coding exercise rejects plausible wrong solutions with the hint meant for that mistake.

The wrong solutions are written here as a learner would write them (not taken from the
package's mistake catalogue), so these tests show that the checker *recognises* each mistake
from its results, and that the feedback names the failing case.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from cnnedu.exercises import check_code
from cnnedu.exercises.lesson04 import MyBasicBlock, shortcut
from cnnedu.exercises.lesson05 import MyDenseLayer
from cnnedu.exercises.lesson06 import average_gradients
from cnnedu.exercises.lesson08 import MyInvertedResidual
from cnnedu.models.small import InceptionModule

# ---------------------------------------------------------------- 00: relu (warm-up)


def relu_opposite(x):
    return torch.minimum(x, torch.zeros_like(x))


def relu_float_zero(x):
    return torch.where(x > 0, x, 0.0)


def relu_abs(x):
    return (x ** 2).sqrt()


# ---------------------------------------------------------------- 01: output size, max pooling


def windows_no_plus_one(size, kernel_size, stride, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride


def windows_one_side_padding(size, kernel_size, stride, padding=0, dilation=1):
    return (size + padding - dilation * (kernel_size - 1) - 1) // stride + 1


def windows_no_dilation(size, kernel_size, stride, padding=0, dilation=1):
    return (size + 2 * padding - kernel_size) // stride + 1


def windows_round_up(size, kernel_size, stride, padding=0, dilation=1):
    return math.ceil((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


def windows_true_division(size, kernel_size, stride, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1


def pool_zero_padding(x, kernel_size, stride, padding=0):
    x = F.pad(x, [padding] * 4)                        # pads with 0
    return x.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride).amax(dim=(-1, -2))


def pool_average(x, kernel_size, stride, padding=0):
    x = F.pad(x, [padding] * 4)
    return x.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride).mean(dim=(-1, -2))


def pool_step_one(x, kernel_size, stride, padding=0):
    x = F.pad(x, [padding] * 4, value=-math.inf)
    return x.unfold(2, kernel_size, 1).unfold(3, kernel_size, 1).amax(dim=(-1, -2))


def pool_one_axis(x, kernel_size, stride, padding=0):
    x = F.pad(x, [padding] * 4, value=-math.inf)
    return x.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride).amax(dim=-1)


def pool_no_padding(x, kernel_size, stride, padding=0):
    return x.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride).amax(dim=(-1, -2))


# ---------------------------------------------------------------- 02: conv2d, receptive field


def _unfold_conv(x, w, b, stride, padding, flip=False, permute=False):
    n, _, h, wd = x.shape
    c_out, _, k, _ = w.shape
    if flip:
        w = torch.flip(w, dims=(2, 3))
    cols = F.unfold(x, k, padding=padding, stride=stride)
    rows = w.permute(0, 2, 3, 1).reshape(c_out, -1) if permute else w.reshape(c_out, -1)
    out = rows @ cols
    if b is not None:
        out = out + b.view(-1, 1)
    return out.view(n, c_out, (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1)


def conv_flipped(x, weight, bias=None, stride=1, padding=0):
    return _unfold_conv(x, weight, bias, stride, padding, flip=True)


def conv_no_bias(x, weight, bias=None, stride=1, padding=0):
    return _unfold_conv(x, weight, None, stride, padding)


def conv_channels_last_rows(x, weight, bias=None, stride=1, padding=0):
    return _unfold_conv(x, weight, bias, stride, padding, permute=True)


def conv_ignores_stride(x, weight, bias=None, stride=1, padding=0):
    return _unfold_conv(x, weight, bias, 1, padding)


def field_ignores_strides(layers):
    return 1 + sum(k - 1 for k, s in layers)


def field_sums_kernels(layers):
    return sum(k for k, s in layers)


def field_counts_own_stride(layers):
    field, jump = 1, 1
    for k, s in layers:
        jump = jump * s
        field = field + (k - 1) * jump
    return field


def field_multiplies(layers):
    return math.prod(k for k, s in layers)


# ---------------------------------------------------------------- 03: BatchNorm


def _bn(x, gamma, beta, rm, rv, momentum, eps, norm_unbiased=False, store_unbiased=True,
        swap=False, dims=(0, 2, 3)):
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, unbiased=norm_unbiased, keepdim=True)
    out = gamma.view(1, -1, 1, 1) * (x - mean) / (var + eps).sqrt() + beta.view(1, -1, 1, 1)
    stored = x.var((0, 2, 3), unbiased=store_unbiased)
    m = 1 - momentum if swap else momentum
    return out, (1 - m) * rm + m * x.mean((0, 2, 3)), (1 - m) * rv + m * stored


def bn_normalises_with_unbiased(x, gamma, beta, rm, rv, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, rm, rv, momentum, eps, norm_unbiased=True)


def bn_stores_biased(x, gamma, beta, rm, rv, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, rm, rv, momentum, eps, store_unbiased=False)


def bn_swapped_momentum(x, gamma, beta, rm, rv, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, rm, rv, momentum, eps, swap=True)


def bn_per_image(x, gamma, beta, rm, rv, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, rm, rv, momentum, eps, dims=(2, 3))


def bn_eval_with_batch_stats(x, gamma, beta, rm, rv, eps=1e-5):
    return _bn(x, gamma, beta, rm, rv, 0.1, eps)[0]


def bn_eval_divides_by_variance(x, gamma, beta, rm, rv, eps=1e-5):
    g, b, m, v = (t.view(1, -1, 1, 1) for t in (gamma, beta, rm, rv))
    return g * (x - m) / (v + eps) + b


def bn_eval_eps_outside(x, gamma, beta, rm, rv, eps=1e-5):
    g, b, m, v = (t.view(1, -1, 1, 1) for t in (gamma, beta, rm, rv))
    return g * (x - m) / (v.sqrt() + eps) + b


def bn_eval_no_affine(x, gamma, beta, rm, rv, eps=1e-5):
    m, v = rm.view(1, -1, 1, 1), rv.view(1, -1, 1, 1)
    return (x - m) / torch.sqrt(v + eps)


# ---------------------------------------------------------------- 04: shortcut, basic block


def shortcut_always_identity(inplanes, planes, stride=1):
    return nn.Identity()


def shortcut_only_for_channels(inplanes, planes, stride=1):
    if inplanes == planes:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))


def shortcut_forgets_stride(inplanes, planes, stride=1):
    if inplanes == planes and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes))


def shortcut_without_bn(inplanes, planes, stride=1):
    if inplanes == planes and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False))


class BlockWithoutDownsample(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + x)


class BlockReluBeforeAdd(MyBasicBlock):
    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return out + self.downsample(x)


class BlockWithoutLastRelu(MyBasicBlock):
    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + self.downsample(x)


class BlockWithBias(MyBasicBlock):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__(inplanes, planes, stride)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1)


class BlockStrideOnSecondConv(MyBasicBlock):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__(inplanes, planes, stride)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)


# ---------------------------------------------------------------- 05: inception count, dense layer


def _unit(c_in, c_out, k, bn=True, bias=False):
    return c_in * c_out * k * k + (2 * c_out if bn else 0) + (c_out if bias else 0)


def inception_without_bn(cin, b1, r3, b3, r5, b5, bp):
    return (_unit(cin, b1, 1, False) + _unit(cin, r3, 1, False) + _unit(r3, b3, 3, False)
            + _unit(cin, r5, 1, False) + _unit(r5, b5, 5, False) + _unit(cin, bp, 1, False))


def inception_without_reduce(cin, b1, r3, b3, r5, b5, bp):
    return _unit(cin, b1, 1) + _unit(cin, b3, 3) + _unit(cin, b5, 5) + _unit(cin, bp, 1)


def inception_without_pool_conv(cin, b1, r3, b3, r5, b5, bp):
    return (_unit(cin, b1, 1) + _unit(cin, r3, 1) + _unit(r3, b3, 3) + _unit(cin, r5, 1)
            + _unit(r5, b5, 5))


def inception_with_bias(cin, b1, r3, b3, r5, b5, bp):
    return (_unit(cin, b1, 1, bias=True) + _unit(cin, r3, 1, bias=True)
            + _unit(r3, b3, 3, bias=True) + _unit(cin, r5, 1, bias=True)
            + _unit(r5, b5, 5, bias=True) + _unit(cin, bp, 1, bias=True))


def inception_bias_instead_of_bn(cin, b1, r3, b3, r5, b5, bp):
    """The likeliest slip: (24, 16, 16, 24, 4, 8, 8) gives 5,388 instead of 5,464."""
    return sum(_unit(c_in, c_out, k, bn=False, bias=True) for c_in, c_out, k in
               [(cin, b1, 1), (cin, r3, 1), (r3, b3, 3), (cin, r5, 1), (r5, b5, 5), (cin, bp, 1)])


def test_inception_bias_instead_of_bn_is_the_hand_counted_slip():
    # weights 384 + 384 + 3,456 + 96 + 800 + 192 = 5,312; + 2 per channel (76) = 5,464 right,
    # + 1 per channel = 5,388 for biases without BatchNorm.
    assert sum(p.numel() for p in InceptionModule(24, 16, 16, 24, 4, 8, 8).parameters()) == 5464
    assert inception_bias_instead_of_bn(24, 16, 16, 24, 4, 8, 8) == 5388


class DenseNewFirst(MyDenseLayer):
    def forward(self, x):
        return torch.cat((self.conv(self.relu(self.norm(x))), x), 1)


class DenseOnlyNew(MyDenseLayer):
    def forward(self, x):
        return self.conv(self.relu(self.norm(x)))


class DenseWithoutRelu(MyDenseLayer):
    def forward(self, x):
        return torch.cat((x, self.conv(self.norm(x))), 1)


class DenseCatOnBatch(MyDenseLayer):
    def forward(self, x):
        return torch.cat((x, x), 0)


# ---------------------------------------------------------------- 06: all-reduce


def grads_summed(model, world_size):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)


def grads_reduced_as_copies(model, world_size):
    for p in model.parameters():
        if p.grad is not None:
            g = p.grad.detach().clone()
            dist.all_reduce(g)
            g /= world_size


def weights_averaged(model, world_size):
    for p in model.parameters():
        dist.all_reduce(p.data)
        p.data /= world_size


def grads_divided_twice(model, world_size):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world_size * world_size


# ---------------------------------------------------------------- 01.5, 02.5, 03.5: backward passes


def _max_windows(x, k, s, p):
    padded = F.pad(x, [p] * 4, value=-math.inf)
    return padded.unfold(2, k, s).unfold(3, k, s).flatten(-2)


def _fold_back(routed, x, k, s, p):
    n, c = x.shape[:2]
    cols = routed.permute(0, 1, 4, 2, 3).reshape(n, c * k * k, -1)
    return F.fold(cols, x.shape[-2:], k, padding=p, stride=s)


def pool_grad_to_every_element(x, grad_out, kernel_size, stride, padding=0):
    windows = _max_windows(x, kernel_size, stride, padding)
    routed = grad_out[..., None].expand_as(windows)
    return _fold_back(routed, x, kernel_size, stride, padding)


def pool_grad_overwrites(x, grad_out, kernel_size, stride, padding=0):
    k, s, p = kernel_size, stride, padding
    padded = F.pad(x, [p] * 4, value=-math.inf)
    grad = torch.zeros_like(padded)
    for r in range(grad_out.shape[2]):
        for c in range(grad_out.shape[3]):
            window = padded[:, :, r * s:r * s + k, c * s:c * s + k]
            mask = window == window.amax(dim=(-1, -2), keepdim=True)
            region = grad[:, :, r * s:r * s + k, c * s:c * s + k]
            region[mask] = grad_out[:, :, r, c][..., None, None].expand_as(window)[mask]
    return grad[:, :, p:p + x.shape[2], p:p + x.shape[3]]


def pool_grad_spread_evenly(x, grad_out, kernel_size, stride, padding=0):
    windows = _max_windows(x, kernel_size, stride, padding)
    routed = (grad_out / kernel_size ** 2)[..., None].expand_as(windows)
    return _fold_back(routed, x, kernel_size, stride, padding)


def pool_grad_mask_only(x, grad_out, kernel_size, stride, padding=0):
    windows = _max_windows(x, kernel_size, stride, padding)
    routed = F.one_hot(windows.argmax(-1), kernel_size ** 2).float()
    return _fold_back(routed, x, kernel_size, stride, padding)


def pool_grad_with_loops(x, grad_out, kernel_size, stride, padding=0):
    """A right answer written differently: plain loops and +=."""
    k, s, p = kernel_size, stride, padding
    padded = F.pad(x, [p] * 4, value=-math.inf)
    grad = torch.zeros_like(padded)
    for b in range(x.shape[0]):
        for ch in range(x.shape[1]):
            for r in range(grad_out.shape[2]):
                for c in range(grad_out.shape[3]):
                    window = padded[b, ch, r * s:r * s + k, c * s:c * s + k]
                    i, j = divmod(int(window.argmax()), k)
                    grad[b, ch, r * s + i, c * s + j] += grad_out[b, ch, r, c]
    return grad[:, :, p:p + x.shape[2], p:p + x.shape[3]]


def _conv_grads(x, weight, grad_out, stride, padding, transpose=True, mean=False):
    n, c_out, k = x.shape[0], weight.shape[0], weight.shape[-1]
    cols = F.unfold(x, k, padding=padding, stride=stride)
    d_y = grad_out.reshape(n, c_out, -1)
    w_mat = weight.reshape(c_out, -1)
    dw = (d_y @ cols.transpose(1, 2)).sum(0).reshape(weight.shape)
    d_cols = (w_mat.T if transpose else w_mat) @ d_y
    dx = F.fold(d_cols, x.shape[-2:], k, padding=padding, stride=stride)
    db = grad_out.sum((0, 2, 3))
    return (dx, dw / n, db / n) if mean else (dx, dw, db)


def conv_grad_no_transpose(x, weight, grad_out, stride=1, padding=0):
    return _conv_grads(x, weight, grad_out, stride, padding, transpose=False)


def conv_grad_batch_mean(x, weight, grad_out, stride=1, padding=0):
    return _conv_grads(x, weight, grad_out, stride, padding, mean=True)


def conv_grad_kernel_not_rotated(x, weight, grad_out, stride=1, padding=0):
    dx = F.conv2d(grad_out, weight.transpose(0, 1), padding=weight.shape[-1] - 1 - padding)
    return (dx,) + _conv_grads(x, weight, grad_out, stride, padding)[1:]


def conv_grad_by_transposed_conv(x, weight, grad_out, stride=1, padding=0):
    """A right answer written differently: dx by conv_transpose2d, dw by torch.nn.grad."""
    extra = [(size + 2 * padding - weight.shape[-1]) % stride for size in x.shape[-2:]]
    dx = F.conv_transpose2d(grad_out, weight, stride=stride, padding=padding,
                            output_padding=extra)
    dw = torch.nn.grad.conv2d_weight(x, weight.shape, grad_out, stride, padding)
    return dx, dw, grad_out.sum((0, 2, 3))


def _bn_grads(x, gamma, grad_out, eps, mean_path=True, var_path=True, gamma_factor=True):
    dims = (0, 2, 3)
    mu = x.mean(dims, keepdim=True)
    sigma = torch.sqrt(x.var(dims, unbiased=False, keepdim=True) + eps)
    x_hat = (x - mu) / sigma
    g = grad_out
    dx = g
    if mean_path:
        dx = dx - g.mean(dims, keepdim=True)
    if var_path:
        dx = dx - x_hat * (g * x_hat).mean(dims, keepdim=True)
    dx = dx / sigma * (gamma.view(1, -1, 1, 1) if gamma_factor else 1)
    return dx, (g * x_hat).sum(dims), g.sum(dims)


def bn_grad_without_mean_path(x, gamma, grad_out, eps=1e-5):
    return _bn_grads(x, gamma, grad_out, eps, mean_path=False)


def bn_grad_without_variance_path(x, gamma, grad_out, eps=1e-5):
    return _bn_grads(x, gamma, grad_out, eps, var_path=False)


def bn_grad_statistics_constant(x, gamma, grad_out, eps=1e-5):
    return _bn_grads(x, gamma, grad_out, eps, mean_path=False, var_path=False)


def bn_grad_without_gamma(x, gamma, grad_out, eps=1e-5):
    return _bn_grads(x, gamma, grad_out, eps, gamma_factor=False)


def bn_grad_staged(x, gamma, grad_out, eps=1e-5):
    """A right answer written differently: the step-by-step chain rule of CS231n's notes."""
    dims, m = (0, 2, 3), x.numel() // x.shape[1]
    g4 = gamma.view(1, -1, 1, 1)
    mu = x.mean(dims, keepdim=True)
    var = ((x - mu) ** 2).mean(dims, keepdim=True)
    x_hat = (x - mu) / torch.sqrt(var + eps)
    dx_hat = grad_out * g4
    dvar = (dx_hat * (x - mu) * -0.5 * (var + eps) ** -1.5).sum(dims, keepdim=True)
    dmu = (-dx_hat / torch.sqrt(var + eps)).sum(dims, keepdim=True) \
        + dvar * (-2 * (x - mu)).mean(dims, keepdim=True)
    dx = dx_hat / torch.sqrt(var + eps) + dvar * 2 * (x - mu) / m + dmu / m
    return dx, (grad_out * x_hat).sum(dims), grad_out.sum(dims)
# ---------------------------------------------------------------- 08: separable count, inverted residual


def separable_as_dense(cin, cout, k):
    return k * k * cin * cout


def separable_depthwise_without_groups(cin, cout, k):
    return k * k * cin * cin + cin * cout


def separable_without_pointwise(cin, cout, k):
    return k * k * cin


def separable_k_not_squared(cin, cout, k):
    return k * cin + cin * cout


class InvertedReluAfterProjection(MyInvertedResidual):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__(inp, oup, stride, expand_ratio)
        self.conv.append(nn.ReLU6())


class InvertedGroupsOnExpansion(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = inp * expand_ratio
        self.conv = nn.Sequential(
            nn.Sequential(nn.Conv2d(inp, hidden, 1, groups=inp, bias=False),
                          nn.BatchNorm2d(hidden), nn.ReLU6()),
            nn.Sequential(nn.Conv2d(hidden, hidden, 3, stride, 1, bias=False),
                          nn.BatchNorm2d(hidden), nn.ReLU6()),
            nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup))
        self.residual = inp == oup

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class InvertedResidualWhenStride2(MyInvertedResidual):
    def forward(self, x):
        out = self.conv(x)
        return x + out if x.shape[1] == out.shape[1] else out


class InvertedWithoutResidual(MyInvertedResidual):
    def forward(self, x):
        return self.conv(x)
# ---------------------------------------------------------------- 07: Grad-CAM and occlusion


def _maps_and_grads(model, layer, x, target):
    store = {}
    handle = layer.register_forward_hook(lambda m, i, o: store.update(a=o))
    out = model(x)
    handle.remove()
    score = out[torch.arange(len(x)), target].sum()
    return store["a"], torch.autograd.grad(score, store["a"])[0]


def cam_no_relu(model, layer, x, target):
    a, g = _maps_and_grads(model, layer, x, target)
    cam = (g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True)
    return F.interpolate(cam, size=x.shape[-2:], mode="bilinear")


def cam_gradient_times_maps(model, layer, x, target):
    a, g = _maps_and_grads(model, layer, x, target)
    return F.interpolate(F.relu((g * a).sum(1, keepdim=True)), size=x.shape[-2:],
                         mode="bilinear")


def cam_nearest(model, layer, x, target):
    a, g = _maps_and_grads(model, layer, x, target)
    return F.interpolate(F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True)),
                         size=x.shape[-2:])


def _occlude(model, x, target, patch, tops, lefts):
    base = model(x)[torch.arange(len(x)), target]
    total, count = torch.zeros_like(x), torch.zeros_like(x)
    with torch.no_grad():
        for t in tops:
            for left in lefts:
                xo = x.clone()
                xo[:, :, t:t + patch, left:left + patch] = 0
                d = base - model(xo)[torch.arange(len(x)), target]
                total[:, :, t:t + patch, left:left + patch] += d.view(-1, 1, 1, 1)
                count[:, :, t:t + patch, left:left + patch] += 1
    return total, count


def occlusion_floor_positions(model, x, target, patch, stride):
    h, w = x.shape[-2:]
    total, count = _occlude(model, x, target, patch, range(0, h - patch + 1, stride),
                            range(0, w - patch + 1, stride))
    return total / count


def occlusion_sum(model, x, target, patch, stride):
    h, w = x.shape[-2:]
    tops = range(0, math.ceil((h - patch) / stride) * stride + 1, stride)
    lefts = range(0, math.ceil((w - patch) / stride) * stride + 1, stride)
    return _occlude(model, x, target, patch, tops, lefts)[0]


def occlusion_gain(model, x, target, patch, stride):
    h, w = x.shape[-2:]
    tops = range(0, math.ceil((h - patch) / stride) * stride + 1, stride)
    lefts = range(0, math.ceil((w - patch) / stride) * stride + 1, stride)
    total, count = _occlude(model, x, target, patch, tops, lefts)
    return -total / count


WRONG = [
    ("00.1", relu_opposite, "you did the opposite"),
    ("00.1", relu_float_zero, "keep the input's dtype"),
    ("00.1", relu_abs, "not their absolute value"),
    ("01.2", windows_no_plus_one, "add 1 for the first window"),
    ("01.2", windows_one_side_padding, "both sides"),
    ("01.2", windows_no_dilation, "dilation*(kernel_size-1)+1"),
    ("01.2", windows_round_up, "round down"),
    ("01.2", windows_true_division, "floor division"),
    ("01.3", pool_zero_padding, "float('-inf')"),
    ("01.3", pool_average, "average pooling"),
    ("01.3", pool_step_one, "move by `stride`"),
    ("01.3", pool_one_axis, "both window axes"),
    ("01.3", pool_no_padding, "padded on all four sides"),
    ("02.1", conv_flipped, "does not flip the kernel"),
    ("02.1", conv_no_bias, "each output channel has a bias"),
    ("02.1", conv_channels_last_rows, "channel first"),
    ("02.1", conv_ignores_stride, "pass stride to F.unfold"),
    ("02.2", field_ignores_strides, "product of the strides before it"),
    ("02.2", field_sums_kernels, "start from 1"),
    ("02.2", field_counts_own_stride, "own stride"),
    ("02.2", field_multiplies, "not multiplying"),
    ("03.1", bn_normalises_with_unbiased, "normalise with the biased variance"),
    ("03.1", bn_stores_biased, "stores the *unbiased* variance"),
    ("03.1", bn_swapped_momentum, "weight of the *new* batch"),
    ("03.1", bn_per_image, "per channel"),
    ("03.2", bn_eval_with_batch_stats, "use the running statistics"),
    ("03.2", bn_eval_divides_by_variance, "not by the variance"),
    ("03.2", bn_eval_eps_outside, "inside the square root"),
    ("03.2", bn_eval_no_affine, "scale by gamma"),
    ("04.1", shortcut_always_identity, "project x"),
    ("04.1", shortcut_only_for_channels, "the stride or the number of channels"),
    ("04.1", shortcut_forgets_stride, "takes the block's stride"),
    ("04.1", shortcut_without_bn, "followed by a BatchNorm2d"),
    ("04.2", BlockWithoutDownsample, "x must be projected"),
    ("04.2", BlockReluBeforeAdd, "before the last ReLU"),
    ("04.2", BlockWithoutLastRelu, "ends with a ReLU"),
    ("04.2", BlockWithBias, "needs no bias"),
    ("04.2", BlockStrideOnSecondConv, "first 3x3 conv"),
    ("05.1", inception_without_bn, "also has a BatchNorm"),
    ("05.1", inception_without_reduce, "'reduce' convolution"),
    ("05.1", inception_without_pool_conv, "pool branch"),
    ("05.1", inception_with_bias, "no bias"),
    ("05.1", inception_bias_instead_of_bn, "one bias per output channel and no BatchNorm"),
    ("05.2", DenseNewFirst, "input's channels first"),
    ("05.2", DenseOnlyNew, "its input *and* the new channels"),
    ("05.2", DenseWithoutRelu, "apply ReLU between"),
    ("05.2", DenseCatOnBatch, "dim=1"),
    ("06.1", grads_summed, "divide by world_size"),
    ("06.1", grads_reduced_as_copies, "in place"),
    ("06.1", weights_averaged, "in place"),
    ("06.1", grads_divided_twice, "divide by world_size once"),
    ("01.5", pool_grad_to_every_element, "not to every element"),
    ("01.5", pool_grad_overwrites, "the SUM of theirs"),
    ("01.5", pool_grad_spread_evenly, "average pooling's backward"),
    ("01.5", pool_grad_mask_only, "grad_out's, not 1"),
    ("02.5", conv_grad_no_transpose, "missing transpose"),
    ("02.5", conv_grad_batch_mean, "SUMS over the batch"),
    ("02.5", conv_grad_kernel_not_rotated, "rotated 180°"),
    ("03.5", bn_grad_without_mean_path, "mean's path is missing"),
    ("03.5", bn_grad_without_variance_path, "variance's path is missing"),
    ("03.5", bn_grad_statistics_constant, "are not constants"),
    ("03.5", bn_grad_without_gamma, "factor γ"),
    ("08.1", separable_as_dense, "a dense k x k convolution's count"),
    ("08.1", separable_depthwise_without_groups, "groups = cin"),
    ("08.1", separable_without_pointwise, "add the 1x1 pointwise"),
    ("08.1", separable_k_not_squared, "k squared"),
    ("08.2", InvertedReluAfterProjection, "the bottleneck is linear"),
    ("08.2", InvertedGroupsOnExpansion, "groups belong on the 3x3 depthwise conv only"),
    ("08.2", InvertedResidualWhenStride2, "add x only when stride is 1 and inp == oup"),
    ("08.2", InvertedWithoutResidual, "the block adds its input"),
    ("07.1", cam_no_relu, "apply ReLU to the weighted sum"),
    ("07.1", cam_gradient_times_maps, "average the gradient over space"),
    ("07.1", cam_nearest, "mode='bilinear'"),
    ("07.2", occlusion_floor_positions, "off by one"),
    ("07.2", occlusion_sum, "divide each pixel's summed drop"),
    ("07.2", occlusion_gain, "original logit minus occluded logit"),
]

RIGHT = [("01.5", pool_grad_with_loops), ("02.5", conv_grad_by_transposed_conv),
         ("03.5", bn_grad_staged)]


@pytest.mark.parametrize(("exercise_id", "wrong", "hint"), WRONG,
                         ids=[f"{e}-{w.__name__}" for e, w, _ in WRONG])
def test_a_plausible_wrong_solution_fails_with_its_hint(exercise_id, wrong, hint, capsys):
    assert check_code(exercise_id, wrong) is False
    out = capsys.readouterr().out
    assert out.startswith(f"❌ {exercise_id}") and "case " in out, out
    assert hint in out, out
    assert "Traceback" not in out


@pytest.mark.parametrize(("exercise_id", "right"), RIGHT, ids=[r.__name__ for _, r in RIGHT])
def test_an_equivalent_right_answer_written_differently_is_accepted(exercise_id, right, capsys):
    assert check_code(exercise_id, right) is True, capsys.readouterr().out


def relu_python_max(x):
    return max(x, 0)          # the commonest first try: Python's max, not element by element


def test_pythons_max_for_relu_raises_and_gets_its_hint(capsys):
    assert check_code("00.1", relu_python_max) is False
    out = capsys.readouterr().out
    assert out.startswith("💥 00.1 relu raised RuntimeError: Boolean value of Tensor"), out
    assert "Hint: Python's max() compares the whole tensor" in out
    assert "Traceback" not in out


def test_every_coding_exercise_has_three_wrong_solutions_here():
    from cnnedu.exercises import EXERCISES, Numeric
    counts = {k: 0 for k, v in EXERCISES.items() if not isinstance(v, Numeric)}
    for exercise_id, _, _ in WRONG:
        counts[exercise_id] += 1
    assert min(counts.values()) >= 3, counts


def test_feedback_says_expected_and_returned_shape(capsys):
    check_code("01.3", pool_one_axis)
    assert "expected output of shape (1, 1, 2, 2), got shape (1, 1, 2, 2, 2)" in \
        capsys.readouterr().out


def test_the_shortcut_may_be_written_without_nn_sequential_names_only_if_torchvisions(capsys):
    def shortcut_named_differently(inplanes, planes, stride=1):
        if inplanes == planes and stride == 1:
            return nn.Identity()
        return nn.ModuleDict({"conv": nn.Conv2d(inplanes, planes, 1, stride, bias=False)})

    assert check_code("04.1", shortcut_named_differently) is False
    assert "the layers differ" in capsys.readouterr().out


def test_reference_shortcut_and_block_match_torchvision_with_pretrained_like_init():
    """Outside the checker: our reference block loads torchvision's weights and agrees."""
    from torchvision.models.resnet import BasicBlock

    torch.manual_seed(0)
    theirs = BasicBlock(8, 16, 2, shortcut(8, 16, 2)).eval()
    ours = MyBasicBlock(8, 16, 2).eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 8, 9, 9)
    torch.testing.assert_close(ours(x), theirs(x))


def test_average_gradients_works_in_a_real_gloo_group(tmp_path):
    """The reference uses the real torch.distributed API correctly (one process, gloo)."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        model = nn.Linear(3, 2)
        model(torch.randn(4, 3)).sum().backward()
        before = model.weight.grad.clone()
        average_gradients(model, dist.get_world_size())
        torch.testing.assert_close(model.weight.grad, before)
    finally:
        dist.destroy_process_group()


def _a_function_not_a_module(*settings):
    return lambda x: x


@pytest.mark.parametrize(("exercise_id", "hint"), [
    ("04.1", "return a module, e.g. nn.Identity()"),
    ("04.2", "return a module, e.g. nn.Identity()"),
    ("08.2", "write MyInvertedResidual as an nn.Module class"),
])
def test_a_block_that_is_not_a_module_gets_its_lessons_hint(exercise_id, hint, capsys):
    """The one module runner (exercises.modules) serves lessons 04 and 08 with their own words."""
    assert check_code(exercise_id, _a_function_not_a_module) is False
    out = capsys.readouterr().out
    assert out.startswith(f"❌ {exercise_id}") and "expected an nn.Module" in out, out
    assert hint in out and "Traceback" not in out, out
