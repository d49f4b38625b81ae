"""The kernel explorer driven headless, as a learner would."""

import random

import pytest
import torch
import torch.nn.functional as F

from cnnedu.models.alexnet import AlexNet
from cnnedu.widgets.kernel_explorer import CUSTOM, PRESETS, KernelExplorer, first_layer_kernels


@pytest.fixture
def explorer():
    g = torch.Generator().manual_seed(0)
    return KernelExplorer(images={"noise": torch.rand(1, 28, 28, generator=g),
                                  "tiny": torch.rand(1, 6, 6, generator=g)})


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


def test_stride_padding_dilation_change_size_and_formula(explorer):
    explorer.stride.value = 2
    assert explorer.output.shape[-1] == (28 + 2 - 2 - 1) // 2 + 1
    assert "/ 2" in explorer.formula.value
    before = explorer.output_view.value
    explorer.dilation.value = 3
    assert explorer.output.shape[-1] == (28 + 2 - 6 - 1) // 2 + 1
    assert explorer.output_view.value != before
    assert "3*(3-1)" in explorer.formula.value


def test_editing_a_cell_makes_a_custom_kernel(explorer):
    explorer.preset.value = "identity"
    explorer.cells[1 * 5 + 1].value = 2.0               # centre of the 3x3 grid
    assert explorer.preset.value == CUSTOM
    torch.testing.assert_close(explorer.output, 2 * explorer.images["noise"])


def test_size_switch_pads_and_crops_the_kernel(explorer):
    explorer.preset.value = "Laplacian"
    explorer.size.value = 5
    kernel = explorer.kernel()
    assert kernel.shape == (5, 5) and kernel[2, 2] == -4 and kernel[0].abs().sum() == 0
    assert explorer.cells[4].layout.visibility == "visible"
    explorer.size.value = 3
    torch.testing.assert_close(explorer.kernel(), PRESETS["Laplacian"])
    assert explorer.cells[4].layout.visibility == "hidden"


def test_gaussian_5x5_sets_the_size(explorer):
    explorer.preset.value = "Gaussian 5×5"
    assert explorer.size.value == 5 and explorer.kernel().sum() == pytest.approx(1)


def test_illegal_settings_give_friendly_messages_and_recover(explorer):
    explorer.image.value = "tiny"
    explorer.padding.value = 0
    explorer.dilation.value = 4                        # spans 9 pixels > 6
    assert explorer.error and "not allowed" in explorer.message.value
    assert "Traceback" not in explorer.message.value and explorer.output is None
    explorer.dilation.value = 1
    assert explorer.error is None and explorer.output is not None
    explorer.cells[0].value = float("nan")
    assert "finite" in explorer.message.value
    explorer.cells[0].value = 0.0
    assert explorer.error is None


def test_trained_filters_become_presets(explorer):
    kernels = first_layer_kernels(AlexNet(), count=4)
    explorer.add_kernels(kernels)
    explorer.preset.value = "trained filter 2"
    assert explorer.size.value == 5
    torch.testing.assert_close(explorer.kernel(), kernels["trained filter 2"])
    with pytest.raises(ValueError, match="square"):
        explorer.add_kernels({"bad": torch.zeros(2, 4)})


def test_random_settings_never_raise(explorer):
    rng = random.Random(0)
    errors = 0
    for _ in range(300):
        choice = rng.randrange(6)
        if choice == 0:
            explorer.stride.value = rng.randint(1, 8)
        elif choice == 1:
            explorer.padding.value = rng.randint(0, 8)
        elif choice == 2:
            explorer.dilation.value = rng.randint(1, 4)
        elif choice == 3:
            explorer.preset.value = rng.choice(list(explorer.presets))
        elif choice == 4:
            explorer.image.value = rng.choice(["noise", "tiny"])
        else:
            explorer.size.value = rng.choice([3, 5])
        errors += explorer.error is not None
    assert errors > 0
