"""The hand-written backward passes equal autograd's gradients of PyTorch's own operations.

Truths: ``torch.autograd.gradcheck`` (finite differences, float64, inputs away from ties) and
autograd through ``F.max_pool2d`` / ``F.avg_pool2d`` / ``F.conv2d`` / ``F.batch_norm``, plus
``torch.nn.grad.conv2d_input`` / ``conv2d_weight`` and ``F.conv_transpose2d``, over many random
settings drawn by hypothesis.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnedu.backward import (
    BatchNorm2dFunction,
    Conv2dFunction,
    batchnorm_backward,
    conv2d_backward,
    conv2d_unfold,
    pool2d_backward,
    pool2d_hand,
)
from cnnedu.backward.batchnorm import HandBatchNorm2d
from cnnedu.backward.layers import HandConv2d, HandLinear, HandMaxPool2d, hand_cross_entropy
from cnnedu.layers import BatchNorm2d


def _distinct(shape, seed=0):
    """float64 values all at least 1e-2 apart (a shuffled ramp): no ties, safe for gradcheck."""
    g = torch.Generator().manual_seed(seed)
    n = torch.Size(shape).numel()
    return (torch.randperm(n, generator=g).double() * 0.05 - n * 0.025).reshape(shape)


def _autograd_grad(fn, x, grad_out):
    x = x.detach().clone().requires_grad_(True)
    fn(x).backward(grad_out)
    return x.grad


# ----------------------------------------------------------------------------- pooling

@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=1),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(1, 2)),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, mode="avg"),
    dict(kernel_size=3, stride=2, padding=1, mode="avg", count_include_pad=False),
    dict(kernel_size=2, stride=3, padding=1, ceil_mode=True, mode="avg", count_include_pad=False),
])
def test_pool_backward_passes_gradcheck(kwargs):
    x = _distinct((2, 2, 7, 8)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: pool2d_hand(t, **kwargs), (x,))


pool_settings = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2),
                          st.integers(1, 3), st.booleans(), st.booleans(), st.booleans(),
                          st.integers(3, 11), st.integers(3, 11), st.integers(0, 10**6))


@settings(max_examples=300, deadline=None)
@given(pool_settings)
def test_pool_backward_equals_autograd_of_torch_pooling(setting):
    k, s, p, d, ceil, avg, include_pad, h, w, seed = setting
    if p > k // 2 or (avg and d > 1):
        return
    if (h + 2 * p - d * (k - 1) - 1) < 0 or (w + 2 * p - d * (k - 1) - 1) < 0:
        return
    x = _distinct((2, 3, h, w), seed).float()
    if avg:
        def torch_pool(t):
            return F.avg_pool2d(t, k, s, p, ceil, include_pad)
    else:
        def torch_pool(t):
            return F.max_pool2d(t, k, s, p, d, ceil)
    out = torch_pool(x)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    mine = pool2d_backward(x, grad_out, k, s, p, d, ceil, "avg" if avg else "max", include_pad)
    torch.testing.assert_close(mine, _autograd_grad(torch_pool, x, grad_out))


def test_max_pool_ties_go_to_the_first_maximum_like_pytorch():
    x = torch.tensor([[[[1., 5., 5.], [5., 2., 0.], [5., 1., 5.]]]])
    grad_out = torch.tensor([[[[1., 10.], [100., 1000.]]]])
    mine = pool2d_backward(x, grad_out, 2, 1)
    theirs = _autograd_grad(lambda t: F.max_pool2d(t, 2, 1), x, grad_out)
    torch.testing.assert_close(mine, theirs)
    # by hand: windows (0,0),(0,1) pick the 5 at (0,1); (1,0) the 5 at (1,0); (1,1) the 5 at (2,2)
    assert mine[0, 0].tolist() == [[0, 11, 0], [100, 0, 0], [0, 0, 1000]]


def test_max_pool_padding_gets_no_gradient_and_overlaps_add():
    x = -torch.ones(1, 1, 3, 3)
    x[0, 0, 1, 1] = 5.0                                  # the max of all 4 overlapping windows
    grad = pool2d_backward(x, torch.ones(1, 1, 2, 2), 3, 2, 1)
    assert grad.sum() == 4 and grad[0, 0, 1, 1] == 4


def test_pool_backward_rejects_a_wrong_grad_shape():
    with pytest.raises(ValueError, match="grad_out must have the pooled output's shape"):
        pool2d_backward(torch.randn(1, 1, 4, 4), torch.randn(1, 1, 3, 3), 2)


# ----------------------------------------------------------------------------- convolution

def test_conv_backward_passes_gradcheck():
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: Conv2dFunction.apply(*t, 2, 1), (x, w, b))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 5), st.integers(1, 4),
       st.integers(1, 3), st.integers(0, 2), st.integers(4, 10), st.integers(4, 10),
       st.integers(0, 10**6))
def test_conv_backward_equals_autograd_nn_grad_and_conv_transpose(n, c_in, c_out, k, s, p, h, w,
                                                                  seed):
    if h + 2 * p < k or w + 2 * p < k:
        return
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c_in, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(c_out, c_in, k, k, generator=g, dtype=torch.float64)
    torch.testing.assert_close(conv2d_unfold(x, weight, None, s, p), F.conv2d(x, weight, None, s, p))
    out_shape = F.conv2d(x, weight, stride=s, padding=p).shape
    grad_out = torch.randn(out_shape, generator=g, dtype=torch.float64)
    dx, dw, db = conv2d_backward(x, weight, grad_out, s, p)
    xr, wr = x.clone().requires_grad_(True), weight.clone().requires_grad_(True)
    br = torch.zeros(c_out, dtype=torch.float64, requires_grad=True)
    F.conv2d(xr, wr, br, s, p).backward(grad_out)
    for mine, theirs in ((dx, xr.grad), (dw, wr.grad), (db, br.grad)):
        torch.testing.assert_close(mine, theirs)
    torch.testing.assert_close(dx, torch.nn.grad.conv2d_input(x.shape, weight, grad_out, s, p))
    torch.testing.assert_close(dw, torch.nn.grad.conv2d_weight(x, weight.shape, grad_out, s, p))
    # dX is a transposed convolution of dY with the same weights (output_padding restores the
    # rows a stride skipped at the end)
    extra = [(size + 2 * p - k) % s for size in (h, w)]
    torch.testing.assert_close(dx, F.conv_transpose2d(grad_out, weight, stride=s, padding=p,
                                                      output_padding=extra))


def test_conv_backward_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="channels"):
        conv2d_backward(torch.randn(1, 2, 5, 5), torch.randn(3, 4, 3, 3), torch.randn(1, 3, 3, 3))


# ----------------------------------------------------------------------------- BatchNorm

def test_batchnorm_backward_passes_gradcheck():
    x = (3 + 2 * torch.randn(3, 2, 4, 5, dtype=torch.float64)).requires_grad_(True)
    gamma = torch.randn(2, dtype=torch.float64, requires_grad=True)
    beta = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *t: BatchNorm2dFunction.apply(*t, 1e-5)[0], (x, gamma, beta))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5),
       st.sampled_from([1e-5, 1e-3, 0.1]), st.integers(0, 10**6))
def test_batchnorm_backward_equals_autograd_of_f_batch_norm(n, c, h, w, eps, seed):
    if n * h * w < 2:
        return
    g = torch.Generator().manual_seed(seed)
    x = 3 + 2 * torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    gamma, beta = torch.randn(c, generator=g, dtype=torch.float64), torch.zeros(c).double()
    grad_out = torch.randn(x.shape, generator=g, dtype=torch.float64)
    dx, dgamma, dbeta = batchnorm_backward(x, gamma, grad_out, eps)
    xr, gr, br = (t.clone().requires_grad_(True) for t in (x, gamma, beta))
    F.batch_norm(xr, None, None, gr, br, True, 0.1, eps).backward(grad_out)
    torch.testing.assert_close(dx, xr.grad)
    torch.testing.assert_close(dgamma, gr.grad)
    torch.testing.assert_close(dbeta, br.grad)
    # the measured property: zero mean per channel
    assert dx.sum((0, 2, 3)).abs().max() < 1e-9 * (1 + dx.abs().max())


def test_hand_batchnorm_module_equals_the_from_scratch_one_and_pytorch():
    torch.manual_seed(0)
    x = 1 + 3 * torch.randn(4, 3, 5, 5, dtype=torch.float64)
    mine, theirs = HandBatchNorm2d(3).double(), torch.nn.BatchNorm2d(3).double()
    with torch.no_grad():
        mine.weight.copy_(torch.randn(3))
        theirs.weight.copy_(mine.weight)
    grad_out = torch.randn_like(x)
    outs, grads = [], []
    for layer in (mine, theirs):
        xr = x.clone().requires_grad_(True)
        out = layer(xr)
        out.backward(grad_out)
        outs.append(out)
        grads.append((xr.grad, layer.weight.grad, layer.bias.grad))
    torch.testing.assert_close(outs[0], outs[1])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(mine.running_var, theirs.running_var)
    assert isinstance(mine, BatchNorm2d)
    mine.eval()
    theirs.eval()
    torch.testing.assert_close(mine(x), theirs(x))


# ----------------------------------------------------------------------------- whole layers

def test_hand_layers_and_loss_match_pytorch_layers():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    conv = HandConv2d(2, 4, 3, stride=2, padding=1).double()
    ref = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1).double()
    ref.load_state_dict(conv.state_dict())
    pool, linear = HandMaxPool2d(2), HandLinear(16, 5).double()
    ref_linear = torch.nn.Linear(16, 5).double()
    ref_linear.load_state_dict(linear.state_dict())
    y = torch.tensor([0, 4, 2])
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    hand_cross_entropy(linear(pool(conv(xa)).flatten(1)), y).backward()
    F.cross_entropy(ref_linear(F.max_pool2d(ref(xb), 2).flatten(1)), y).backward()
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(conv.weight.grad, ref.weight.grad)
    torch.testing.assert_close(linear.weight.grad, ref_linear.weight.grad)
    torch.testing.assert_close(linear.bias.grad, ref_linear.bias.grad)


# ----------------------------------------------------------------------------- in use

def test_hand_net_trains_like_the_autograd_net_in_float64():
    from cnnedu.backward.training import HAND_KINDS, train_side_by_side
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g))
               for _ in range(5)]
    autograd_run, hand_run = train_side_by_side(batches, HAND_KINDS, dtype=torch.float64)
    assert len(hand_run.losses) == 5
    torch.testing.assert_close(torch.tensor(hand_run.losses), torch.tensor(autograd_run.losses),
                               rtol=1e-10, atol=1e-10)
    # each run hands back its trained net: both moved away from the shared start, to the same place
    fresh = train_side_by_side(batches[:0], HAND_KINDS, dtype=torch.float64)[0].net
    trained = autograd_run.net.state_dict()
    assert not torch.equal(trained["0.weight"], fresh.state_dict()["0.weight"])
    torch.testing.assert_close(hand_run.net.state_dict()["0.weight"], trained["0.weight"],
                               rtol=1e-8, atol=1e-10)


def test_block_gradient_split_adds_up_to_autograds_input_gradient():
    from cnnedu.backward.residual import block_gradient_split
    from cnnedu.models.resnet import resnet_mini
    torch.manual_seed(0)
    net = resnet_mini(8, 4).double()
    x, y = torch.randn(6, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (6,))
    split = block_gradient_split(net, x, y)
    inputs = []
    blocks = [net.layer1[0], net.layer2[0], net.layer3[0]]
    hooks = [b.register_forward_pre_hook(lambda m, args: inputs.append(args[0])) for b in blocks]
    loss = F.cross_entropy(net(x), y)
    for h in hooks:
        h.remove()
    grads = torch.autograd.grad(loss, inputs)
    assert [s.name for s in split] == ["layer1.0", "layer2.0", "layer3.0"]
    for s, g in zip(split, grads, strict=True):
        assert s.total == pytest.approx(g.norm().item(), rel=1e-9)
    assert not split[0].projection and split[1].projection
    assert split[0].shortcut == pytest.approx(split[0].at_sum)     # identity: dL/dz passes as is
