"""The kernel explorer's colour mode driven headless: depthwise and dense convolution of an RGB
image, checked against ``F.conv2d`` (groups=3 and groups=1) and against the image's own pixels."""

import random
import re

import pytest
import torch
import torch.nn.functional as F

from cnnedu.widgets.kernel_explorer import PRESETS
from cnnedu.widgets.rgb_kernel_explorer import RGBKernelExplorer


def images():
    g = torch.Generator().manual_seed(0)
    return {"noise": torch.rand(3, 28, 21, generator=g), "tiny": torch.rand(3, 6, 6, generator=g)}


@pytest.fixture
def explorer():
    return RGBKernelExplorer(images=images())


def values(zoom: str, kind: str) -> list[float]:
    return [float(v) for v in re.findall(
        rf"<td class='cnnedu-(?:{kind})[^']*' data-value='([^']+)'", zoom)]


def zoom_value(zoom: str) -> float:
    return float(re.search(r"cnnedu-zoom-value' data-value='([^']+)'", zoom).group(1))


def chosen_kernels(names, size=3):
    return torch.stack([F.pad(PRESETS[n], [(size - PRESETS[n].shape[-1]) // 2] * 4)
                        for n in names])


def test_depthwise_is_conv2d_with_groups_3_and_keeps_channels_apart(explorer):
    image = explorer.images["noise"]
    w = chosen_kernels(["Sobel x", "box blur", "Sobel y"])[:, None]
    torch.testing.assert_close(explorer.output, F.conv2d(image[None], w, padding=1, groups=3)[0])
    changed = image.clone()
    changed[1] = torch.rand_like(changed[1])        # a new green channel
    explorer.images["noise"] = changed
    explorer.stride.value = 2                       # any change redraws
    before = F.conv2d(image[None], w, padding=1, stride=2, groups=3)[0]
    torch.testing.assert_close(explorer.output[[0, 2]], before[[0, 2]])   # red, blue untouched
    assert not torch.allclose(explorer.output[1], before[1])


def test_dense_is_conv2d_summing_the_three_channels(explorer):
    explorer.kernels[1].value = "Laplacian"
    explorer.mode.value = "dense"
    image = explorer.images["noise"]
    w = chosen_kernels(["Sobel x", "Laplacian", "Sobel y"])
    expected = F.conv2d(image[None], w[None], padding=1)[0]
    torch.testing.assert_close(explorer.output, expected)
    per_channel = sum(F.conv2d(image[None, c:c + 1], w[c][None, None], padding=1)[0]
                      for c in range(3))
    torch.testing.assert_close(explorer.output, per_channel)
    assert [p["key"] for p in explorer.panels.panels] == ["input", "in0", "in1", "in2", "out"]
    assert explorer.channel.disabled and "groups=1" in explorer.stats.value


def test_mixed_kernel_sizes_are_padded_to_the_largest(explorer):
    explorer.kernels[0].value = "Gaussian 5×5"
    assert explorer.weight().shape == (3, 1, 5, 5)
    w = chosen_kernels(["Gaussian 5×5", "box blur", "Sobel y"], size=5)[:, None]
    image = explorer.images["noise"]
    torch.testing.assert_close(explorer.output, F.conv2d(image[None], w, padding=1, groups=3)[0])


def test_pointing_at_a_depthwise_channel_shows_that_channels_window(explorer):
    image = explorer.images["noise"]
    explorer.panels.selected = [4, 7, 2]
    assert explorer.channel.value == 2 and explorer.panels.selected == [4, 7, 2]
    assert explorer.panels.window == {"rows": [3, 4, 5], "cols": [6, 7, 8],
                                      "panels": ["input", "in2"]}
    zoom = explorer.panels.zoom
    assert values(zoom, "cell|pad") == pytest.approx(image[2, 3:6, 6:9].flatten().tolist())
    assert values(zoom, "weight") == pytest.approx(PRESETS["Sobel y"].flatten().tolist())
    truth = F.conv2d(image[None], chosen_kernels(["Sobel x", "box blur", "Sobel y"])[:, None],
                     padding=1, groups=3)[0, 2, 4, 7]
    assert sum(values(zoom, "product")) == pytest.approx(float(truth), abs=1e-5)
    assert zoom_value(zoom) == pytest.approx(float(truth), abs=1e-6)
    assert "window of input channel 2 (blue)" in zoom
    explorer.channel.value = 0                        # the keyboard way: same pixel, red
    assert explorer.panels.window["panels"] == ["input", "in0"]
    assert values(explorer.panels.zoom, "cell|pad") == pytest.approx(
        image[0, 3:6, 6:9].flatten().tolist())


def test_random_settings_and_pixels_match_conv2d(explorer):
    rng = random.Random(1)
    checked = 0
    for _ in range(60):
        explorer.mode.value = rng.choice(["depthwise", "dense"])
        explorer.image.value = rng.choice(["noise", "tiny"])
        for k in explorer.kernels:
            k.value = rng.choice(list(PRESETS))
        explorer.stride.value, explorer.padding.value = rng.randint(1, 3), rng.randint(0, 3)
        explorer.dilation.value = rng.randint(1, 3)
        if explorer.error is not None:
            continue
        image, (s, p, d) = explorer.images[explorer.image.value], (
            explorer.stride.value, explorer.padding.value, explorer.dilation.value)
        size = max(PRESETS[k.value].shape[-1] for k in explorer.kernels)
        w = chosen_kernels([k.value for k in explorer.kernels], size)
        dense = explorer.mode.value == "dense"
        truth = F.conv2d(image[None], w[None] if dense else w[:, None], stride=s, padding=p,
                         dilation=d, groups=1 if dense else 3)[0]
        torch.testing.assert_close(explorer.output, truth)
        row, col = rng.randrange(truth.shape[1]), rng.randrange(truth.shape[2])
        c = rng.randrange(3)
        explorer.panels.selected = [row, col] if dense else [row, col, c]
        zoom = explorer.panels.zoom
        if dense:
            sums = [float(v) for v in re.findall(r"data-sum='([^']+)'", zoom)]
            assert len(sums) == 3 and sum(sums) == pytest.approx(float(truth[0, row, col]),
                                                                 abs=1e-5)
        else:
            assert sum(values(zoom, "product")) == pytest.approx(float(truth[c, row, col]),
                                                                 abs=1e-5)
        checked += 1
    assert checked > 20


def test_illegal_settings_clear_everything_stale_and_recover(explorer):
    explorer.image.value = "tiny"
    explorer.padding.value = 0
    explorer.dilation.value = 4                        # a 3x3 kernel spans 9 pixels > 6
    assert explorer.error and "not allowed" in explorer.message.value
    assert "Traceback" not in explorer.message.value and explorer.output is None
    assert [p["key"] for p in explorer.panels.panels] == ["input"]
    assert explorer.panels.window == {} and explorer.panels.selected == []
    assert "cnnedu-zoom-value" not in explorer.panels.zoom and explorer.stats.value == ""
    explorer.dilation.value = 1
    assert explorer.error is None and "cnnedu-zoom-value" in explorer.panels.zoom


def test_a_grey_image_is_refused_naming_it():
    with pytest.raises(ValueError, match="image 'grey' must have shape \\(3, H, W\\), got "
                                         "\\(1, 5, 5\\)"):
        RGBKernelExplorer(images={"grey": torch.rand(1, 5, 5)})


def test_default_images_are_the_course_photos_in_colour():
    explorer = RGBKernelExplorer(photo_size=32)
    assert "chelsea" in explorer.images and explorer.images["chelsea"].shape == (3, 32, 32)
    assert explorer.error is None
