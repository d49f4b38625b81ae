"""The kernel explorer driven headless, as a learner would: presets, typed weights, pointing at
output pixels; the zoom panel's window × kernel is checked against ``F.conv2d``."""

import random
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnedu.models.alexnet import AlexNet
from cnnedu.widgets.common import SEED_NAME, seed_tensor
from cnnedu.widgets.kernel_explorer import (
    CUSTOM,
    MAX_SIZE,
    PRESETS,
    KernelExplorer,
    first_layer_kernels,
    weight_text,
)
from cnnedu.widgets.zoom import explain_conv_pixel


def images():
    g = torch.Generator().manual_seed(0)
    return {"noise": torch.rand(1, 28, 28, generator=g), "tiny": torch.rand(1, 6, 6, generator=g),
            SEED_NAME: seed_tensor()}


@pytest.fixture
def explorer():
    return KernelExplorer(images=images())


@pytest.fixture(scope="module")
def shared():
    return KernelExplorer(images=images())


def grid_values(zoom: str, kind: str) -> list[float]:
    """Values of one zoom grid: kind 'cell|pad' (window), 'weight' or 'product'."""
    return [float(v) for v in re.findall(
        rf"<td class='cnnedu-(?:{kind})[^']*' data-value='([^']+)'", zoom)]


def zoom_value(zoom: str) -> float:
    return float(re.search(r"cnnedu-zoom-value' data-value='([^']+)'", zoom).group(1))


def test_presets_are_the_classic_kernels():
    assert {"identity", "box blur", "Gaussian 3×3", "sharpen", "Sobel x", "Sobel y",
            "Laplacian"} <= set(PRESETS)
    assert float(PRESETS["box blur"].sum()) == pytest.approx(1)
    assert float(PRESETS["Sobel x"].sum()) == 0 and float(PRESETS["Laplacian"].sum()) == 0


def test_output_is_the_convolution_of_the_shown_kernel(explorer):
    image = explorer.images["noise"]
    expected = F.conv2d(image[None], PRESETS["Sobel x"][None, None], padding=1)[0]
    torch.testing.assert_close(explorer.output, expected)
    explorer.preset.value = "identity"
    torch.testing.assert_close(explorer.output, image)   # padding 1 keeps the size


@settings(max_examples=50, deadline=None)
@given(size=st.sampled_from([3, 5]), stride=st.integers(1, 4), padding=st.integers(0, 3),
       dilation=st.integers(1, 3), pick=st.tuples(st.floats(0, 1), st.floats(0, 1)),
       seed=st.integers(0, 1000))
def test_zoom_window_times_kernel_matches_conv2d(shared, size, stride, padding, dilation, pick,
                                                 seed):
    ex = shared
    ex.image.value = "noise"
    kernel = torch.randn(size, size, generator=torch.Generator().manual_seed(seed))
    ex.add_kernels({"random": kernel})
    ex.preset.value = CUSTOM
    ex.preset.value = "random"
    ex.stride.value, ex.padding.value, ex.dilation.value = stride, padding, dilation
    if ex.error is not None:
        assert ex.panels.window == {} and "cnnedu-zoom-value" not in ex.panels.zoom
        return
    image = ex.images["noise"]
    reference = F.conv2d(image[None], kernel[None, None], stride=stride, padding=padding,
                         dilation=dilation)[0, 0]
    out_h, out_w = reference.shape
    row, col = min(int(pick[0] * out_h), out_h - 1), min(int(pick[1] * out_w), out_w - 1)
    ex.panels.selected = [row, col]
    zoom = ex.panels.zoom
    assert zoom_value(zoom) == pytest.approx(float(reference[row, col]), abs=1e-5)
    window, weights, products = (
        torch.tensor(grid_values(zoom, kind), dtype=torch.float64).view(size, size)
        for kind in ("cell|pad", "weight", "product"))
    torch.testing.assert_close(weights, kernel.double())
    torch.testing.assert_close(products, window * weights)
    assert float(products.sum()) == pytest.approx(float(reference[row, col]), abs=1e-5)
    padded = F.pad(image[0], (padding,) * 4)
    top, left = row * stride, col * stride
    span = dilation * (size - 1) + 1
    expected = padded[top:top + span:dilation, left:left + span:dilation]
    torch.testing.assert_close(window, expected.double())


def test_explain_conv_pixel_marks_padding(explorer):
    win = explain_conv_pixel(torch.ones(1, 4, 4), torch.ones(3, 3), 0, 0, padding=1)
    assert win.rows == (-1, 0, 1) and int(win.inside.sum()) == 4 and win.value == 4


def test_stride_padding_dilation_change_size_and_formula(explorer):
    explorer.stride.value = 2
    assert explorer.output.shape[-1] == (28 + 2 - 2 - 1) // 2 + 1
    assert "/ 2" in explorer.formula.value
    before = explorer.panels.panels[1]["src"]
    explorer.dilation.value = 3
    assert explorer.output.shape[-1] == (28 + 2 - 6 - 1) // 2 + 1
    assert explorer.panels.panels[1]["src"] != before
    assert "3*(3-1)" in explorer.formula.value


def test_typing_a_weight_makes_a_custom_kernel(explorer):
    explorer.preset.value = "identity"
    explorer.cells[1 * MAX_SIZE + 1].value = "2"          # centre of the 3x3 grid
    assert explorer.preset.value == CUSTOM
    torch.testing.assert_close(explorer.output, 2 * explorer.images["noise"])


@pytest.mark.parametrize(("text", "why"), [("abc", "is not a number"),
                                           ("1e400", "is not a finite number"),
                                           ("nan", "is not a finite number")])
def test_bad_weight_text_is_refused_with_a_note(explorer, text, why):
    before = explorer.kernel()
    explorer.cells[0].value = text
    assert why in explorer.weight_note.value and repr(text) in explorer.weight_note.value
    assert explorer.cells[0].value == "-1"                 # Sobel x's corner, shown again
    torch.testing.assert_close(explorer.kernel(), before)
    explorer.cells[0].value = "-2"
    assert explorer.weight_note.value == "" and float(explorer.kernel()[0, 0]) == -2


def test_trained_weights_are_readable_and_exact(explorer):
    kernels = first_layer_kernels(AlexNet(), count=4)
    explorer.add_kernels(kernels)
    explorer.preset.value = "trained filter 2"
    assert explorer.size.value == 5
    torch.testing.assert_close(explorer.kernel(), kernels["trained filter 2"])   # not rounded
    shown = [cell.value for cell in explorer.cells]
    assert all(len(text) <= 8 for text in shown)          # fits its 76-pixel box
    assert float(shown[0]) == pytest.approx(float(kernels["trained filter 2"][0, 0]), rel=5e-2)
    assert [weight_text(v) for v in (-0.047123, -0.000123456, 12.345)] == \
        ["-0.0471", "-1.2e-04", "12.3"]
    with pytest.raises(ValueError, match="square"):
        explorer.add_kernels({"bad": torch.zeros(2, 4)})


def test_kernels_given_at_construction_are_offered_and_used():
    """Lesson 02 builds its trained-filter explorer this way (it once failed before any view)."""
    kernels = first_layer_kernels(AlexNet(), count=2)
    explorer = KernelExplorer(images=images(), kernels=kernels)
    assert explorer.error is None and explorer.preset.value == "Sobel x"
    explorer.preset.value = "trained filter 1"
    assert explorer.error is None
    image = explorer.images["noise"]
    expected = F.conv2d(image[None], kernels["trained filter 1"][None, None].float(),
                        padding=explorer.padding.value)[0]
    torch.testing.assert_close(explorer.output, expected)


def test_size_switch_pads_and_crops_the_kernel(explorer):
    explorer.preset.value = "Laplacian"
    explorer.size.value = 5
    kernel = explorer.kernel()
    assert kernel.shape == (5, 5) and kernel[2, 2] == -4 and kernel[0].abs().sum() == 0
    assert explorer.cells[4].layout.visibility == "visible"
    explorer.size.value = 3
    torch.testing.assert_close(explorer.kernel(), PRESETS["Laplacian"])
    assert explorer.cells[4].layout.visibility == "hidden"


def test_illegal_settings_clear_everything_stale_and_recover(explorer):
    explorer.image.value = "tiny"
    explorer.padding.value = 0
    explorer.dilation.value = 4                        # spans 9 pixels > 6
    assert explorer.error and "not allowed" in explorer.message.value
    assert "Traceback" not in explorer.message.value and explorer.output is None
    assert [p["key"] for p in explorer.panels.panels] == ["input"]
    assert explorer.panels.window == {} and explorer.stats.value == ""
    assert "cnnedu-zoom-value" not in explorer.panels.zoom and explorer.play.disabled
    explorer.dilation.value = 1
    assert explorer.error is None and explorer.output is not None
    assert "cnnedu-zoom-value" in explorer.panels.zoom


def test_padding_at_the_slider_maximum_says_so(explorer):
    explorer.padding.value = 20
    assert explorer.padding.value == 8
    assert "8 is this slider's maximum" in explorer.notes["padding"].value


def test_play_slides_the_window_over_the_seed_tensor(explorer):
    explorer.image.value = SEED_NAME                   # 4x4, padding 1: a 4x4 output
    spans = []
    for step in range(5):
        explorer.play.value = step
        spans.append((explorer.panels.window["rows"][0], explorer.panels.window["cols"][0]))
    assert spans == [(-1, -1), (-1, 0), (-1, 1), (-1, 2), (0, -1)]
    assert explorer.play.max == 15


def test_random_settings_never_raise(explorer):
    rng = random.Random(0)
    errors = 0
    for _ in range(300):
        choice = rng.randrange(7)
        if choice == 0:
            explorer.stride.value = rng.randint(1, 8)
        elif choice == 1:
            explorer.padding.value = rng.randint(0, 8)
        elif choice == 2:
            explorer.dilation.value = rng.randint(1, 4)
        elif choice == 3:
            explorer.preset.value = rng.choice(list(explorer.presets))
        elif choice == 4:
            explorer.image.value = rng.choice(list(explorer.images))
        elif choice == 5:
            explorer.size.value = rng.choice([3, 5])
        else:
            explorer.panels.selected = [rng.randint(0, 30), rng.randint(0, 30)]
        errors += explorer.error is not None
    assert errors > 0


def test_first_layer_kernels_are_the_first_conv_weights_as_tensors():
    model = AlexNet()
    kernels = first_layer_kernels(model, count=3)
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert list(kernels) == [f"trained filter {i}" for i in range(3)]
    for i, kernel in enumerate(kernels.values()):
        assert isinstance(kernel, torch.Tensor) and kernel.dtype == torch.float32
        torch.testing.assert_close(kernel, first_conv.weight.detach()[i, 0])
