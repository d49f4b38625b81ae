"""The pooling explorer driven headless: set widget values (or point at pixels) as a learner
would, and check what the panels and the zoom panel show against ``pool2d`` and PyTorch."""

import gc
import math
import random
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnedu.pooling import pool2d
from cnnedu.widgets.common import SEED_NAME, seed_tensor
from cnnedu.widgets.pooling_explorer import PoolingExplorer


def small_images():
    g = torch.Generator().manual_seed(0)
    return {"noise 28": torch.rand(1, 28, 28, generator=g),
            "noise 64x48": torch.rand(1, 64, 48, generator=g),
            "tiny 8x8": torch.rand(1, 8, 8, generator=g),
            SEED_NAME: seed_tensor()}


@pytest.fixture(scope="module")
def shared():
    return PoolingExplorer(images=small_images())


@pytest.fixture
def explorer():
    return PoolingExplorer(images=small_images())


def zoom_cells(zoom: str, mode: str | None = None) -> list[float]:
    """The numbers in the window grid of the zoom panel (one mode's part), row by row."""
    if mode is not None:
        zoom = zoom.split(f"data-mode='{mode}'")[1].split("data-mode=")[0]
    return [float(v) for v in re.findall(
        r"<td class='cnnedu-(?:cell|pad)[^']*' data-value='([^']+)'", zoom)]


def zoom_value(zoom: str, mode: str | None = None) -> float:
    if mode is not None:
        zoom = zoom.split(f"data-mode='{mode}'")[1]
    return float(re.search(r"cnnedu-zoom-value' data-value='([^']+)'", zoom).group(1))


def zoom_span(zoom: str) -> tuple[str, str]:
    found = re.search(r"data-rows='([^']+)' data-cols='([^']+)'", zoom)
    return found.group(1), found.group(2)


def test_default_explorer_offers_photos_fashion_mnist_and_the_seed_tensor():
    ex = PoolingExplorer(photo_size=64)
    names = list(ex.images)
    assert {"astronaut", "brick", "chelsea", "coffee"} <= set(names)
    assert any(name.startswith("Fashion-MNIST") for name in names)
    assert torch.equal(ex.images[SEED_NAME], seed_tensor())
    assert ex.error is None and [p["key"] for p in ex.panels.panels] == ["input", "max"]


def test_panels_carry_true_sizes_and_share_one_display_size(explorer):
    explorer.image.value, explorer.compare.value, explorer.difference.value = "noise 64x48", True, True
    shown = explorer.panels.panels
    assert [p["key"] for p in shown] == ["input", "max", "avg", "difference"]
    assert (shown[0]["height"], shown[0]["width"]) == (64, 48)
    assert all((p["height"], p["width"]) == (32, 24) for p in shown[1:])
    assert all("32×24" in p["label"] for p in shown[1:]) and "64×48" in shown[0]["label"]
    assert all(p["src"].startswith("data:image/") for p in shown)
    assert [p["hover"] for p in shown] == [False, True, True, True]


def test_output_matches_torch_for_current_settings(explorer):
    explorer.kernel.value, explorer.stride.value, explorer.padding.value = 3, 2, 1
    image = explorer.images[explorer.image.value]
    assert torch.equal(explorer.outputs["max"], F.max_pool2d(image, 3, 2, 1))
    explorer.mode.value = "avg"
    torch.testing.assert_close(explorer.outputs["avg"], F.avg_pool2d(image, 3, 2, 1))
    explorer.count_include_pad.value = False
    torch.testing.assert_close(explorer.outputs["avg"],
                               F.avg_pool2d(image, 3, 2, 1, count_include_pad=False))


def test_seed_tensor_zoom_shows_the_blog_posts_maxima(explorer):
    explorer.image.value = SEED_NAME
    expected = {(0, 0): 49, (0, 1): 41, (1, 0): 41, (1, 1): 36}   # the post's printed output
    for (row, col), value in expected.items():
        explorer.panels.selected = [row, col]                     # the pointer, as the browser
        assert zoom_value(explorer.panels.zoom) == value
        assert "cnnedu-max" in explorer.panels.zoom and f"{value} ★" in explorer.panels.zoom


@settings(max_examples=60, deadline=None)
@given(kernel=st.integers(1, 5), stride=st.integers(1, 4), padding=st.integers(0, 2),
       dilation=st.integers(1, 3), ceil=st.booleans(), mode=st.sampled_from(["max", "avg"]),
       include=st.booleans(), pick=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_zoom_panel_matches_pool2d_and_torch(shared, kernel, stride, padding, dilation, ceil,
                                             mode, include, pick):
    ex = shared
    ex.image.value, ex.compare.value, ex.difference.value = "noise 28", False, False
    ex.mode.value, ex.count_include_pad.value, ex.ceil_mode.value = mode, include, ceil
    ex.kernel.value, ex.stride.value, ex.padding.value, ex.dilation.value = (
        kernel, stride, padding, dilation)
    if ex.error is not None:
        assert ex.panels.window == {} and "cnnedu-zoom-value" not in ex.panels.zoom
        return
    st_ = ex.settings()
    assert st_["padding"] == min(padding, kernel // 2)
    assert st_["dilation"] == (1 if mode == "avg" else dilation)
    image = ex.images["noise 28"]
    out_h, out_w = ex.out_hw
    row, col = min(int(pick[0] * out_h), out_h - 1), min(int(pick[1] * out_w), out_w - 1)
    ex.panels.selected = [row, col]
    zoom = ex.panels.zoom
    if mode == "max":
        reference = F.max_pool2d(image, kernel, stride, st_["padding"], st_["dilation"],
                                 ceil_mode=ceil)
    else:
        reference = F.avg_pool2d(image, kernel, stride, st_["padding"], ceil_mode=ceil,
                                 count_include_pad=include)
    assert zoom_value(zoom) == pytest.approx(float(reference[0, row, col]), abs=1e-6)
    d, p = st_["dilation"], st_["padding"]
    rows = [row * stride - p + i * d for i in range(kernel)]
    cols = [col * stride - p + j * d for j in range(kernel)]
    assert zoom_span(zoom) == (f"{rows[0]}..{rows[-1]}", f"{cols[0]}..{cols[-1]}")
    assert ex.panels.window == {"rows": rows, "cols": cols}
    cells = zoom_cells(zoom)
    assert len(cells) == kernel * kernel
    for index, value in enumerate(cells):
        r, c = rows[index // kernel], cols[index % kernel]
        if 0 <= r < 28 and 0 <= c < 28:
            assert value == pytest.approx(float(image[0, r, c]))
        else:
            assert value == (-math.inf if mode == "max" else 0.0)
    if mode == "max":
        assert max(cells) == pytest.approx(zoom_value(zoom))


def test_avg_zoom_writes_sum_over_count_with_padding_rule(explorer):
    explorer.image.value = SEED_NAME
    explorer.mode.value, explorer.kernel.value, explorer.stride.value = "avg", 2, 2
    explorer.padding.value = 1
    zoom = explorer.panels.zoom                      # output (0, 0): one real pixel, 3 pads
    assert "(49 + 3 padding zero(s)) / 4 = 49 / 4" in zoom and zoom_value(zoom) == 12.25
    explorer.count_include_pad.value = False
    zoom = explorer.panels.zoom
    assert "(49 (3 padding cell(s) not counted)) / 1" in zoom and zoom_value(zoom) == 49
    assert "pad, not counted" in zoom


def test_dilation_gaps_are_drawn_in_the_zoom(explorer):
    explorer.kernel.value, explorer.dilation.value, explorer.stride.value = 3, 2, 1
    zoom = explorer.panels.zoom
    assert zoom.count("cnnedu-gap") == 5 * 5 - 3 * 3 and "skips 1 pixel" in zoom


def test_padding_is_clamped_with_a_note_and_comes_back(explorer):
    explorer.kernel.value = 2
    explorer.padding.value = 3                     # as typed into the readout
    assert explorer.padding.value == 1 and explorer.error is None
    note = explorer.notes["padding"].value
    assert "padding 3 → 1" in note and "kernel // 2" in note
    explorer.kernel.value = 7                      # the rule allows 3 now: the asked value
    assert explorer.padding.value == 3 and explorer.notes["padding"].value == ""


def test_slider_at_its_maximum_says_so(explorer):
    explorer.kernel.value = 40                     # the slider clamps it to its maximum
    assert explorer.kernel.value == 9
    assert "9 is this slider's maximum" in explorer.notes["kernel"].value
    assert "becomes" not in explorer.notes["kernel"].value   # typing exactly 9 changed nothing
    explorer.kernel.value = 3
    assert explorer.notes["kernel"].value == ""


def test_average_mode_resets_dilation_and_says_why(explorer):
    explorer.dilation.value = 3
    explorer.mode.value = "avg"
    assert explorer.dilation.disabled and explorer.dilation.value == 1
    assert "dilation 3 → 1" in explorer.notes["dilation"].value
    assert "no dilation" in explorer.notes["dilation"].value and explorer.error is None
    explorer.mode.value = "max"
    assert not explorer.dilation.disabled and explorer.notes["dilation"].value == ""


def test_illegal_setting_clears_everything_stale(explorer):
    explorer.image.value = "noise 28"
    explorer.panels.selected = [5, 6]
    explorer.kernel.value = 9
    explorer.dilation.value = 4          # dilated window 33 > 28 + 2*0
    assert explorer.error is not None
    assert "not allowed" in explorer.message.value and "does not fit" in explorer.message.value
    assert "Traceback" not in explorer.message.value and "illegal" in explorer.formula.value
    assert explorer.outputs == {} and explorer.stats.value == ""
    assert [p["key"] for p in explorer.panels.panels] == ["input"]
    assert explorer.panels.window == {} and explorer.panels.selected == []
    assert "cnnedu-zoom-value" not in explorer.panels.zoom
    assert explorer.probe_row.disabled and explorer.play.disabled
    explorer.dilation.value = 1          # back to legal: message gone, output back
    assert explorer.error is None and explorer.message.value == ""
    assert "max" in explorer.outputs and "cnnedu-zoom-value" in explorer.panels.zoom


def test_play_steps_the_window_row_by_row(explorer):
    explorer.image.value = SEED_NAME                 # 2x2 output
    seen = []
    for step in range(4):
        explorer.play.value = step                   # what the Play widget does each tick
        seen.append((explorer.probe_row.value, explorer.probe_col.value,
                     zoom_span(explorer.panels.zoom)))
    assert seen == [(0, 0, ("0..1", "0..1")), (0, 1, ("0..1", "2..3")),
                    (1, 0, ("2..3", "0..1")), (1, 1, ("2..3", "2..3"))]
    assert explorer.play.max == 3


def test_sliders_and_pointer_select_the_same_pixel(explorer):
    explorer.kernel.value, explorer.stride.value = 2, 2
    explorer.probe_row.value, explorer.probe_col.value = 3, 5
    assert explorer.panels.selected == [3, 5]
    assert zoom_span(explorer.panels.zoom) == ("6..7", "10..11")
    image = explorer.images[explorer.image.value][0]
    assert zoom_value(explorer.panels.zoom) == pytest.approx(float(image[6:8, 10:12].max()))
    explorer.panels.selected = [1, 2]
    assert (explorer.probe_row.value, explorer.probe_col.value) == (1, 2)


def test_selection_follows_a_shrinking_output_with_a_note(explorer):
    explorer.probe_row.value = 13
    explorer.kernel.value, explorer.stride.value = 4, 4
    assert explorer.probe_row.max == 6 and explorer.probe_row.value == 6
    assert explorer.error is None and explorer.panels.selected[0] == 6
    assert "window moved to (6, " in explorer.notes["probe"].value


def test_window_moved_note_goes_when_the_learner_moves_the_window(explorer):
    explorer.probe_row.value, explorer.probe_col.value = 12, 12
    explorer.kernel.value, explorer.stride.value = 4, 4       # output shrinks: window moved
    assert "window moved to" in explorer.notes["probe"].value
    explorer.probe_row.value = 5                               # the learner's own move
    assert explorer.notes["probe"].value == ""
    explorer.probe_row.value, explorer.probe_col.value = 12, 12
    explorer.kernel.value, explorer.stride.value = 2, 2        # a larger output: no move, no note
    explorer.panels.selected = [3, 4]                          # pointer: still no note
    assert explorer.notes["probe"].value == ""


def test_difference_panel_is_max_minus_avg(explorer):
    explorer.difference.value = True
    explorer.panels.selected = [2, 3]
    expected = float(explorer.outputs["max"][0, 2, 3] - explorer.outputs["avg"][0, 2, 3])
    assert zoom_value(explorer.panels.zoom, "max") - zoom_value(explorer.panels.zoom, "avg") \
        == pytest.approx(expected)
    image = explorer.images[explorer.image.value]
    assert torch.equal(explorer.outputs["max"], pool2d(image, **explorer.settings()))


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
        explorer.panels: lambda: [rng.randint(0, 30), rng.randint(0, 30)],
    }
    items = list(controls.items())

    def push(n):
        errors = 0
        for _ in range(n):
            control, value = rng.choice(items)
            if control is explorer.panels:
                control.selected = value()
            else:
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
    explorer.image.value, explorer.kernel.value, explorer.dilation.value = "noise 28", 2, 1
    explorer.stride.value, explorer.ceil_mode.value = 2, False
    assert explorer.error is None and explorer.outputs
