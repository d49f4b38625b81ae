"""The pooling explorer driven headless: set widget values as a learner would, check the views."""

import gc
import random

import pytest
import torch
import torch.nn.functional as F

from cnnedu.widgets.pooling_explorer import PoolingExplorer


def small_images():
    g = torch.Generator().manual_seed(0)
    return {"noise 28": torch.rand(1, 28, 28, generator=g),
            "noise 64x48": torch.rand(1, 64, 48, generator=g),
            "tiny 8x8": torch.rand(1, 8, 8, generator=g)}


@pytest.fixture
def explorer():
    return PoolingExplorer(images=small_images())


def test_default_explorer_offers_photos_and_fashion_mnist():
    ex = PoolingExplorer(photo_size=64)
    names = list(ex.images)
    assert {"astronaut", "brick", "chelsea", "coffee"} <= set(names)
    assert any(name.startswith("Fashion-MNIST") for name in names)
    assert ex.error is None and ex.input_view.value and ex.output_view.value


def test_output_matches_torch_for_current_settings(explorer):
    explorer.kernel.value, explorer.stride.value, explorer.padding.value = 3, 2, 1
    image = explorer.images[explorer.image.value]
    assert torch.equal(explorer.outputs["max"], F.max_pool2d(image, 3, 2, 1))
    explorer.mode.value = "avg"
    torch.testing.assert_close(explorer.outputs["avg"], F.avg_pool2d(image, 3, 2, 1))


def test_moving_kernel_and_stride_changes_image_and_formula(explorer):
    before_img, before_formula = explorer.output_view.value, explorer.formula.value
    explorer.kernel.value = 4
    assert explorer.output_view.value != before_img
    assert explorer.formula.value != before_formula
    before = explorer.formula.value
    explorer.stride.value = 3
    assert "/ 3" in explorer.formula.value and explorer.formula.value != before
    assert explorer.output_label.value.endswith(f"{(28 - 4) // 3 + 1}×{(28 - 4) // 3 + 1}")


def test_padding_range_follows_kernel(explorer):
    explorer.kernel.value = 5
    assert explorer.padding.max == 2
    explorer.padding.value = 2
    explorer.kernel.value = 3
    assert explorer.padding.max == 1 and explorer.padding.value == 1
    assert explorer.error is None


def test_average_mode_blocks_dilation(explorer):
    explorer.dilation.value = 3
    explorer.mode.value = "avg"
    assert explorer.dilation.disabled and explorer.dilation.value == 1
    assert explorer.error is None
    explorer.mode.value = "max"
    assert not explorer.dilation.disabled


def test_illegal_output_size_gives_a_friendly_message(explorer):
    explorer.kernel.value = 9
    explorer.dilation.value = 4          # dilated window 33 > 28 + 2*0
    assert explorer.error is not None
    assert "not allowed" in explorer.message.value and "does not fit" in explorer.message.value
    assert "Traceback" not in explorer.message.value
    assert "illegal" in explorer.formula.value
    assert explorer.outputs == {}
    explorer.dilation.value = 1          # back to legal: message gone, output back
    assert explorer.error is None and explorer.message.value == ""
    assert "max" in explorer.outputs


def test_compare_shows_max_and_avg_side_by_side(explorer):
    explorer.compare.value = True
    assert set(explorer.outputs) == {"max", "avg"}
    assert explorer.second_view.layout.display is None
    assert not torch.equal(explorer.outputs["max"], explorer.outputs["avg"])
    assert "max pool" in explorer.stats.value and "avg pool" in explorer.stats.value
    explorer.compare.value = False
    assert explorer.second_view.layout.display == "none"


def test_switching_mode_changes_the_output_image(explorer):
    before = explorer.output_view.value
    explorer.mode.value = "avg"
    assert explorer.output_view.value != before


def test_window_probe_explains_the_highlighted_pixel(explorer):
    explorer.kernel.value, explorer.stride.value = 2, 2
    explorer.probe_row.value, explorer.probe_col.value = 3, 5
    image = explorer.images[explorer.image.value][0]
    window = image[6:8, 10:12]
    assert "rows 6..7, columns 10..11" in explorer.window_info.value
    assert f"{float(window.max()):.3f}" in explorer.window_info.value
    assert explorer.probe_row.max == 13


def test_probe_range_shrinks_with_the_output(explorer):
    explorer.probe_row.value = 13
    explorer.kernel.value, explorer.stride.value = 4, 4
    assert explorer.probe_row.max == 6 and explorer.probe_row.value == 6
    assert explorer.error is None


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


def test_stress_1000_random_settings_no_exception_no_memory_growth(explorer):
    rng = random.Random(1)
    controls = {
        explorer.kernel: lambda: rng.randint(1, 9), explorer.stride: lambda: rng.randint(1, 9),
        explorer.padding: lambda: rng.randint(0, 4), explorer.dilation: lambda: rng.randint(1, 4),
        explorer.mode: lambda: rng.choice(["max", "avg"]),
        explorer.ceil_mode: lambda: rng.random() < 0.5,
        explorer.compare: lambda: rng.random() < 0.3,
        explorer.image: lambda: rng.choice(list(explorer.images)),
        explorer.probe_row: lambda: rng.randint(0, 40), explorer.probe_col: lambda: rng.randint(0, 40),
    }
    items = list(controls.items())

    def push(n):
        errors = 0
        for _ in range(n):
            control, value = rng.choice(items)
            control.value = value()      # must never raise
            errors += explorer.error is not None
        return errors

    push(200)                            # warm-up: caches, allocator pools
    gc.collect()
    before = _rss_bytes()
    errors = push(1000)
    gc.collect()
    growth = _rss_bytes() - before
    assert growth < 20 * 2**20, f"memory grew by {growth / 2**20:.1f} MiB over 1,000 updates"
    assert errors > 0, "the random settings should include some illegal ones"
    # Every illegal state was explained in words, and the explorer recovers afterwards.
    explorer.image.value, explorer.kernel.value, explorer.dilation.value = "noise 28", 2, 1
    explorer.stride.value, explorer.ceil_mode.value = 2, False
    assert explorer.error is None and explorer.outputs
