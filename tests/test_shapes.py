"""cnnedu.shapes against PyTorch: conv_output_size accepts what F.conv2d accepts, with its shape,
and convolution and pooling reject a kernel that does not fit with the same message."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnedu.pooling import PoolingError, output_size
from cnnedu.shapes import conv_output_size, sliding_formula


@settings(max_examples=300, deadline=None)
@given(h=st.integers(1, 20), w=st.integers(1, 20), k=st.integers(1, 7), s=st.integers(1, 4),
       p=st.integers(0, 4), d=st.integers(1, 4))
def test_conv_output_size_matches_torch(h, w, k, s, p, d):
    try:
        expected = tuple(F.conv2d(torch.zeros(1, 1, h, w), torch.zeros(1, 1, k, k), stride=s,
                                  padding=p, dilation=d).shape[-2:])
    except RuntimeError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError, match="does not fit"):
            conv_output_size((h, w), k, s, p, d)
    else:
        assert conv_output_size((h, w), k, s, p, d) == expected
        assert sliding_formula(h, k, s, p, d).endswith(f"= {expected[0]}")


@pytest.mark.parametrize(("kwargs", "words"), [
    (dict(kernel=0), ["kernel_size", "at least 1", "kernel_size=0"]),
    (dict(kernel=3, stride=0), ["stride", "at least 1", "stride=0"]),
    (dict(kernel=3, dilation=0), ["dilation", "at least 1"]),
    (dict(kernel=3, padding=-1), ["padding", "at least 0", "padding=-1"]),
])
def test_conv_settings_errors_name_the_setting(kwargs, words):
    with pytest.raises(ValueError) as err:
        conv_output_size((8, 8), **kwargs)
    assert all(word in str(err.value) for word in words)


def test_conv_and_pooling_say_the_same_when_the_kernel_does_not_fit():
    with pytest.raises(ValueError) as conv_error:
        conv_output_size((6, 10), 3, 1, 1, 4)             # dilated span 9 > 6 + 2 rows
    with pytest.raises(PoolingError) as pool_error:
        output_size((6, 10), 3, 1, 1, 4)
    expected = ("output height would be 0: (6 + 2*1 - 4*(3-1) - 1) / 1 + 1 < 1; the (dilated) "
                "kernel of 9 does not fit in the padded input of 8. Use a smaller kernel or "
                "dilation, or more padding.")
    assert str(conv_error.value) == str(pool_error.value) == expected
    with pytest.raises(PoolingError, match="output size would be"):
        output_size(6, 3, 1, 1, 4)
