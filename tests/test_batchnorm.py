"""cnnedu.layers.BatchNorm2d equals nn.BatchNorm2d: outputs, gradients, running statistics."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnedu.layers import BatchNorm2d


@st.composite
def bn_case(draw):
    n, c, h, w = (draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 5)),
                  draw(st.integers(1, 5)))
    if n * h * w < 2:
        n = 2
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.1]))
    momentum = draw(st.one_of(st.none(), st.floats(0.01, 1.0)))
    affine = draw(st.booleans())
    steps = draw(st.integers(1, 4))
    return (n, c, h, w), eps, momentum, affine, steps


@settings(max_examples=150, deadline=None)
@given(case=bn_case(), seed=st.integers(0, 10_000))
def test_matches_pytorch_over_several_steps(case, seed):
    shape, eps, momentum, affine, steps = case
    gen = torch.Generator().manual_seed(seed)
    ours = BatchNorm2d(shape[1], eps=eps, momentum=momentum, affine=affine).double()
    ref = nn.BatchNorm2d(shape[1], eps=eps, momentum=momentum, affine=affine).double()
    if affine:
        with torch.no_grad():
            w, b = torch.randn(shape[1], generator=gen), torch.randn(shape[1], generator=gen)
            for m in (ours, ref):
                m.weight.copy_(w)
                m.bias.copy_(b)
    for _ in range(steps):
        x = (torch.randn(shape, generator=gen, dtype=torch.float64) * 3 + 1)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        y1, y2 = ours(x1), ref(x2)
        torch.testing.assert_close(y1, y2)
        upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
        (y1 * upstream).sum().backward()
        (y2 * upstream).sum().backward()
        torch.testing.assert_close(x1.grad, x2.grad)
        if affine:
            torch.testing.assert_close(ours.weight.grad, ref.weight.grad)
            torch.testing.assert_close(ours.bias.grad, ref.bias.grad)
        torch.testing.assert_close(ours.running_mean, ref.running_mean)
        torch.testing.assert_close(ours.running_var, ref.running_var)
    assert int(ours.num_batches_tracked) == int(ref.num_batches_tracked) == steps
    ours.eval()
    ref.eval()
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x))


def test_state_dicts_interchange():
    ref = nn.BatchNorm2d(3)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 2.0)
        ref.bias.uniform_(-1.0, 1.0)
    ref(torch.randn(4, 3, 5, 5) * 2 + 1)                  # running statistics move away from 0, 1
    ours = BatchNorm2d(3)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(ours.eval()(x), ref.eval()(x))       # the values came across too
    fresh = nn.BatchNorm2d(3)
    fresh.load_state_dict(ours.state_dict(), strict=True)
    torch.testing.assert_close(fresh.eval()(x), ref(x))


def test_running_var_is_unbiased():
    bn = BatchNorm2d(1, momentum=1.0)
    x = torch.tensor([1.0, 2.0, 3.0, 6.0]).view(4, 1, 1, 1)
    y = bn(x)
    assert bn.running_var.item() == pytest.approx(x.var(unbiased=True).item())
    assert y.flatten().var(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("x, words", [
    (torch.randn(2, 5, 3, 3), ["BatchNorm2d(3)", "5 channels"]),
    (torch.randn(2, 3, 4), ["(N, C, H, W)"]),
    (torch.randn(1, 3, 1, 1), ["more than 1 value per channel", ".eval()"]),
])
def test_bad_input_is_explained(x, words):
    with pytest.raises(ValueError) as err:
        BatchNorm2d(3)(x)
    for word in words:
        assert word in str(err.value)


def test_one_value_per_channel_is_fine_in_eval_and_bad_arguments():
    bn = BatchNorm2d(3).eval()
    assert bn(torch.randn(1, 3, 1, 1)).shape == (1, 3, 1, 1)
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm2d(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm2d(3, momentum=1.5)
