"""cnnedu.profiling against hand counts and the separate counters it combines."""

import torch
from torch import nn
from torchvision.models import resnet18

from cnnedu.layer_table import total_flops
from cnnedu.profiling import compare, profile, profiles_text, saved_activation_bytes


def small_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.Flatten(), nn.Linear(72, 10))


def test_saved_activation_bytes_by_hand():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(18, 3))
    # conv saves its input (25 floats); ReLU saves its output (18); the Linear saves its input,
    # which is the same storage as ReLU's output (flatten is a view): counted once.
    assert saved_activation_bytes(net, (1, 1, 5, 5)) == (25 + 18) * 4


def test_saved_activation_bytes_leaves_the_model_alone():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    saved_activation_bytes(net, (4, 1, 6, 6))
    after = net.state_dict()
    # a training-mode forward on the model itself would move BatchNorm's running statistics
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not net.training


def test_profile_matches_independent_counts_on_resnet18():
    model = resnet18()
    p = profile(model, (1, 3, 64, 64), repeats=2)
    assert p.conv2d_count == 20 and p.params == 11_689_512
    assert p.flops == total_flops(model, (1, 3, 64, 64))
    assert p.activation_bytes == saved_activation_bytes(model, (1, 3, 64, 64))
    assert p.latency_ms > 0
    both = compare({"a": small_net(), "b": model}, {"a": (1, 1, 8, 8), "b": (1, 3, 64, 64)},
                   repeats=1)
    assert both["a"].params == 4 * 9 + 4 + 8 * 4 * 9 + 8 + 730
    assert both["a"].flops == total_flops(small_net(), (1, 1, 8, 8))
    assert both["b"].params == p.params and both["b"].flops == p.flops
    lines = profiles_text(both, {"a": {"top-1": "n/a"}}).splitlines()
    assert lines[0].split()[-1] == "top-1" and len(lines) == 3
    assert lines[1].split()[:3] == ["a", "2", "0.0M"] and lines[1].endswith("n/a")
    assert lines[2].split()[:3] == ["b", "20", "11.7M"] and "MiB" in lines[2]


def test_percentiles_are_measured_samples():
    """By hand: of 1..20, p50 is the 10th value (rank floor(0.5 * 19) = 9) and p95 the 19th."""
    import pytest

    from cnnedu.profiling import percentiles

    values = [float(v) for v in range(20, 0, -1)]
    assert percentiles(values, (50, 95)) == [10.0, 19.0]
    assert percentiles([3.0]) == [3.0, 3.0]
    with pytest.raises(ValueError, match="at least one"):
        percentiles([])
