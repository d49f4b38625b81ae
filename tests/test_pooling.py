"""cnnedu.pooling against PyTorch: same shapes, same values, same acceptance, clearer errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnedu.pooling import (
    PoolingError,
    check_settings,
    explain_output_pixel,
    output_size,
    pool2d,
)
from cnnedu.shapes import sliding_formula

small = st.integers(1, 4)


@st.composite
def pooling_case(draw, mode):
    kh, kw = draw(small), draw(small)
    stride = draw(st.one_of(st.none(), st.tuples(small, small)))
    padding = (draw(st.integers(0, kh // 2 + 1)), draw(st.integers(0, kw // 2 + 1)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if mode == "max" else (1, 1)
    ceil_mode = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 11)),
             draw(st.integers(1, 11)))
    if draw(st.booleans()):
        shape = shape[1:]
    return dict(kernel_size=(kh, kw), stride=stride, padding=padding, dilation=dilation,
                ceil_mode=ceil_mode), shape


def torch_pool(x, mode, count_include_pad=True, **kw):
    if mode == "max":
        return F.max_pool2d(x, **kw)
    kw.pop("dilation")
    return F.avg_pool2d(x, count_include_pad=count_include_pad, **kw)


def torch_accepts(x, mode, **kw):
    try:
        return torch_pool(x, mode, **kw)
    except RuntimeError:
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pooling_case("max"), seed=st.integers(0, 2**16))
def test_max_pool_matches_torch(case, seed):
    kw, shape = case
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    expected = torch_accepts(x, "max", **kw)
    if expected is None:
        with pytest.raises(PoolingError):
            pool2d(x, mode="max", **kw)
        return
    got = pool2d(x, mode="max", **kw)
    assert got.shape == expected.shape
    assert torch.equal(got, expected)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pooling_case("avg"), include=st.booleans(), seed=st.integers(0, 2**16))
def test_avg_pool_matches_torch(case, include, seed):
    kw, shape = case
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    expected = torch_accepts(x, "avg", count_include_pad=include, **kw)
    if expected is None:
        with pytest.raises(PoolingError):
            pool2d(x, mode="avg", count_include_pad=include, **kw)
        return
    got = pool2d(x, mode="avg", count_include_pad=include, **kw)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 4),
       d=st.integers(1, 4), ceil=st.booleans())
def test_output_size_and_acceptance_match_torch(size, k, s, p, d, ceil):
    x = torch.zeros(1, 1, size, size + 1)
    try:
        expected = tuple(F.max_pool2d(x, k, s, p, d, ceil_mode=ceil).shape[-2:])
    except RuntimeError:
        expected = None
    if expected is None:
        with pytest.raises(PoolingError):
            output_size((size, size + 1), k, s, p, d, ceil)
    else:
        assert output_size((size, size + 1), k, s, p, d, ceil) == expected
        assert output_size(size, k, s, p, d, ceil) == expected[0]
        assert sliding_formula(size, k, s, p, d, ceil).split("=")[-1].split()[0] == str(expected[0])


def test_ceil_mode_drops_a_window_that_would_start_in_the_padding():
    # 5 + 2*1 - 2 = 5, /2 = 2.5, ceil -> 3, +1 = 4; but window 3 would start at 6 >= 5 + 1.
    assert output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert output_size(5, 2, 2, 1, ceil_mode=False) == 3
    assert output_size(4, 3, 2, 0, ceil_mode=True) == 2  # window 1 starts at 2 < 4: kept
    assert "dropped" in sliding_formula(5, 2, 2, 1, ceil_mode=True)
    assert F.max_pool2d(torch.zeros(1, 5, 5), 2, 2, 1, ceil_mode=True).shape[-1] == 3


def test_seed_demo_by_hand():
    x = torch.tensor([[[49., 16., 41., 35.], [47., 14., 33., 3.],
                       [31., 10., 19., 36.], [41., 27., 4., 1.]]])
    assert pool2d(x, 2, 2).tolist() == [[[49., 41.], [41., 36.]]]
    assert pool2d(x, 2, 2, mode="avg").tolist() == [[[31.5, 28.], [27.25, 15.]]]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.int64,
                                   torch.int32, torch.uint8])
def test_other_dtypes_match_torch(dtype):
    x = (torch.randn(2, 3, 9, 8, generator=torch.Generator().manual_seed(1)) * 20).to(dtype)
    assert torch.equal(pool2d(x, 3, 2, 1), F.max_pool2d(x, 3, 2, 1))
    try:
        expected = F.avg_pool2d(x, 3, 2, 1)
    except (NotImplementedError, RuntimeError):
        with pytest.raises(TypeError, match="average pooling"):
            pool2d(x, 3, 2, 1, mode="avg")
        return
    torch.testing.assert_close(pool2d(x, 3, 2, 1, mode="avg"), expected, rtol=1e-2, atol=1e-2)


def test_nan_wins_in_max_pool_like_torch():
    x = torch.arange(16.0).view(1, 4, 4)
    x[0, 0, 1] = math.nan
    got, expected = pool2d(x, 2), F.max_pool2d(x, 2)
    assert torch.equal(got.isnan(), expected.isnan())
    assert torch.equal(got.nan_to_num(), expected.nan_to_num())


def test_empty_batch_is_accepted_like_torch():
    assert pool2d(torch.zeros(0, 2, 4, 4), 2).shape == (0, 2, 2, 2)


def test_gradients_flow_like_torch():
    x1 = torch.randn(1, 2, 7, 7, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    pool2d(x1, 3, 2, 1, mode="avg").sum().backward()
    F.avg_pool2d(x2, 3, 2, 1).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize("kwargs, words", [
    (dict(kernel_size=0), ["kernel_size", "at least 1", "(0, 0)"]),
    (dict(kernel_size=2, stride=0), ["stride", "at least 1", "(0, 0)"]),
    (dict(kernel_size=2, padding=-1), ["padding", "at least 0", "(-1, -1)"]),
    (dict(kernel_size=3, padding=2), ["padding", "half the kernel", "(1, 1)", "(2, 2)"]),
    (dict(kernel_size=2, padding=2, dilation=3), ["padding", "half the kernel"]),
    (dict(kernel_size=2, dilation=0), ["dilation", "at least 1"]),
    (dict(kernel_size=2, dilation=2, mode="avg"), ["average", "dilation", "(2, 2)"]),
    (dict(kernel_size=9), ["output height", "< 1", "does not fit"]),
    (dict(kernel_size=2, mode="median"), ["mode", "'median'"]),
])
def test_illegal_settings_name_parameter_rule_and_value(kwargs, words):
    with pytest.raises(PoolingError) as err:
        pool2d(torch.zeros(1, 4, 4), **kwargs)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2.0), dict(kernel_size=True),
                                    dict(kernel_size=(2, 2, 2)), dict(kernel_size=2, stride="1"),
                                    dict(kernel_size=2, ceil_mode=1)])
def test_wrong_types_raise_type_error(kwargs):
    with pytest.raises(TypeError):
        pool2d(torch.zeros(1, 4, 4), **kwargs)


@pytest.mark.parametrize("x, words", [
    (torch.zeros(4, 4), ["(C, H, W)", "x[None]"]),
    (torch.zeros(1, 1, 1, 4, 4), ["5 dimensions"]),
    (torch.zeros(0, 4, 4), ["non-empty"]),
])
def test_wrong_input_shape_is_explained(x, words):
    with pytest.raises(PoolingError) as err:
        pool2d(x, 2)
    for word in words:
        assert word in str(err.value)


def test_non_tensor_and_bad_dtypes_are_type_errors():
    with pytest.raises(TypeError, match="torch.Tensor"):
        pool2d([[1, 2], [3, 4]], 2)
    with pytest.raises(TypeError, match="bool"):
        pool2d(torch.ones(1, 2, 2, dtype=torch.bool), 2)
    with pytest.raises(TypeError, match="uint8"):
        pool2d(torch.ones(1, 2, 2, dtype=torch.uint8), 2, mode="avg")


def test_check_settings_returns_pairs():
    st_ = check_settings((3, 2), None, (1, 0), 2)
    assert st_.stride == (3, 2) and st_.effective_kernel == (5, 3)


@settings(max_examples=200, deadline=None)
@given(case=pooling_case("max"), mode=st.sampled_from(["max", "avg"]),
       include=st.booleans(), seed=st.integers(0, 999), data=st.data())
def test_window_explanation_reproduces_each_output_pixel(case, mode, include, seed, data):
    kw, shape = case
    if mode == "avg":
        kw["dilation"] = (1, 1)
    x = torch.randn(shape[-3:], generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    try:
        out = pool2d(x, mode=mode, count_include_pad=include, **kw)
    except PoolingError:
        assume(False)
    r = data.draw(st.integers(0, out.shape[-2] - 1))
    c = data.draw(st.integers(0, out.shape[-1] - 1))
    info = explain_output_pixel(x, r, c, mode=mode, count_include_pad=include, **kw)
    assert math.isclose(info.value, float(out[0, r, c]), rel_tol=1e-9, abs_tol=1e-12)
    if not info.inside.any():
        # A dilated window can skip over the whole input and sample only padding: torch gives
        # -inf there (max) -- a legal setting whose output carries no information.
        assert mode == "max" and info.value == -math.inf
    elif mode == "max":
        assert x[0, info.argmax[0], info.argmax[1]] == out[0, r, c]


def test_dilated_window_can_see_only_padding_like_torch():
    x = torch.ones(1, 2, 2)
    assert F.max_pool2d(x, 2, 1, 1, 3)[0, 0, 0] == -math.inf
    assert pool2d(x, 2, 1, 1, 3)[0, 0, 0] == -math.inf
    assert not explain_output_pixel(x, 0, 0, 2, 1, 1, 3).inside.any()


def test_window_explanation_ties_and_geometry():
    x = torch.tensor([[[5., 1., 5.], [5., 0., 0.], [0., 0., 0.]]])
    info = explain_output_pixel(x, 0, 0, 2, 1)
    assert info.argmax == (0, 0)             # first maximum in row-major order, like PyTorch
    assert info.box == (0, 0, 1, 1)
    info = explain_output_pixel(x, 0, 0, 2, 1, padding=1)
    assert info.rows == (-1, 0) and not info.inside[0].any()
    with pytest.raises(PoolingError, match="outside the output"):
        explain_output_pixel(x, 5, 0, 2)


@settings(max_examples=100, deadline=None)
@given(case=pooling_case("max"), seed=st.integers(0, 999))
def test_unfold_windows_view_reduces_to_torch_pooling(case, seed):
    from cnnedu.pooling import pooling_windows

    kw, shape = case
    x = torch.randn((2, *shape[-3:]), generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    try:
        expected = F.max_pool2d(x, **kw)
    except RuntimeError:
        return
    windows = pooling_windows(x, fill=-math.inf, **kw)
    assert windows.shape[-2:] == tuple(kw["kernel_size"])
    assert torch.equal(windows.amax((-1, -2)), expected)


def test_int_or_pair_arguments_are_typed_as_torch_types_them():
    """Truth: torch's own ``_size_2_t`` (int or (int, int)) for every int-or-pair argument."""
    import typing

    import torch.nn.common_types

    from cnnedu.backward.pooling import pool2d_backward
    from cnnedu.pooling import pooling_windows

    torch_pair = set(typing.get_args(torch.nn.common_types._size_2_t))
    for fn in (pool2d, pooling_windows, check_settings, output_size, explain_output_pixel,
               pool2d_backward):
        hints = typing.get_type_hints(fn)
        for name in ("kernel_size", "padding", "dilation"):
            assert set(typing.get_args(hints[name])) == torch_pair, (fn.__name__, name)
        assert set(typing.get_args(hints["stride"])) == torch_pair | {type(None)}, fn.__name__


@pytest.mark.parametrize("call", ["pool2d", "pooling_windows", "explain", "output_size",
                                  "backward"])
def test_settings_are_validated_once_per_call(monkeypatch, call):
    """Each public call checks its settings exactly once (it used to check them twice: once
    itself, once more inside ``output_size``); the result still equals PyTorch's."""
    import cnnedu.backward.pooling as backward
    import cnnedu.pooling as pooling
    import cnnedu.pooling_explain as explain
    import cnnedu.pooling_rules as rules
    from cnnedu.backward.pooling import pool2d_backward

    calls = []
    real = rules.check_settings

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    for module in (rules, pooling, explain, backward):
        monkeypatch.setattr(module, "check_settings", counting)
    x = torch.randn(1, 2, 7, 7)
    if call == "pool2d":
        torch.testing.assert_close(pool2d(x, 3, 2, 1), F.max_pool2d(x, 3, 2, 1))
    elif call == "pooling_windows":
        assert pooling.pooling_windows(x, 3, 2, 1).shape == (1, 2, 4, 4, 3, 3)
    elif call == "explain":
        assert explain_output_pixel(x[0], 1, 1, 3, 2, 1).value == F.max_pool2d(x, 3, 2, 1)[0, 0, 1, 1]
    elif call == "output_size":
        assert output_size(7, 3, 2, 1) == F.max_pool2d(x, 3, 2, 1).shape[-1]
    else:
        x.requires_grad_(True)
        F.max_pool2d(x, 3, 2, 1).sum().backward()
        torch.testing.assert_close(pool2d_backward(x.detach(), torch.ones(1, 2, 4, 4), 3, 2, 1),
                                   x.grad)
    assert len(calls) == 1, calls


def test_the_split_modules_keep_every_public_import_of_cnnedu_pooling():
    import cnnedu.pooling as pooling
    import cnnedu.pooling_explain as explain
    import cnnedu.pooling_rules as rules

    assert pooling.output_size is rules.output_size and pooling.PoolingError is rules.PoolingError
    assert pooling.explain_output_pixel is explain.explain_output_pixel
    for name in pooling.__all__:
        assert hasattr(pooling, name), name
