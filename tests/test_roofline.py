"""The roofline arithmetic, checked on hand-computed cases (not the speed of this machine)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from torch import nn  # noqa: E402

from cnnedu.layer_table import total_flops  # noqa: E402
from cnnedu.roofline import (  # noqa: E402
    ConvSpec,
    Measurement,
    arithmetic_intensity,
    attainable_gflops,
    measure_conv,
    plot_roofline,
    ridge_point,
)


def test_depthwise_3x3_by_hand():
    # 2 images, 4 channels, 10x10, one 3x3 kernel per channel:
    # FLOPs 2 * 2*100 pixels * 4 channels * 9 = 14,400; bytes 4 * (36 weights + 2*100*(4+4)) = 6,544
    spec = ConvSpec("dw", cin=4, cout=4, kernel=3, groups=4, size=10, batch=2)
    assert spec.flops == 14_400
    assert spec.bytes_moved == 6_544
    assert spec.intensity == pytest.approx(14_400 / 6_544)


def test_dense_1x1_by_hand():
    # 1 image, 8 -> 16 channels, 4x4: FLOPs 2*16*16*8 = 4,096; bytes 4*(128 + 16*(8+16)) = 2,048
    spec = ConvSpec("1x1", cin=8, cout=16, kernel=1, size=4, batch=1)
    assert (spec.flops, spec.bytes_moved, spec.intensity) == (4_096, 2_048, 2.0)


@pytest.mark.parametrize("cin, cout, k, groups", [(16, 32, 3, 1), (24, 24, 7, 24), (8, 8, 1, 2)])
def test_flops_agree_with_pytorch_counter(cin, cout, k, groups):
    spec = ConvSpec("x", cin, cout, k, groups, size=9, batch=3)
    conv = nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False)
    assert spec.flops == total_flops(conv, (3, cin, 9, 9))


def test_roof_and_ridge():
    assert ridge_point(200.0, 20.0) == 10.0
    assert attainable_gflops(2.0, 200.0, 20.0) == 40.0      # memory-bound: 2 FLOP/B x 20 GB/s
    assert attainable_gflops(50.0, 200.0, 20.0) == 200.0    # compute-bound: the peak
    assert attainable_gflops(10.0, 200.0, 20.0) == 200.0    # at the ridge both limits meet


def test_gflops_of_a_measurement():
    spec = ConvSpec("1x1", cin=8, cout=16, kernel=1, size=4, batch=1)   # 4,096 FLOPs
    assert Measurement(spec, seconds=4.096e-6).gflops == pytest.approx(1.0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="groups must divide"):
        ConvSpec("bad", cin=6, cout=4, kernel=3, groups=4)
    with pytest.raises(ValueError, match="bytes_moved must be positive"):
        arithmetic_intensity(10, 0)


def test_measure_and_plot_run():
    spec = ConvSpec("dw", cin=4, cout=4, kernel=3, groups=4, size=8, batch=1)
    measured = measure_conv(spec, repeats=1)
    assert measured.spec is spec and measured.seconds > 0
    fig, ax = plt.subplots()
    plot_roofline(ax, [measured], peak_gflops=100.0, bandwidth_gbs=10.0)
    assert ax.get_xscale() == "log" and len(ax.collections) == 1
    plt.close(fig)
