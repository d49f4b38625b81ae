"""The attribution explorer driven headless: change controls and point at pixels as a learner
would, and check what the panels show against Captum and the image itself."""

import pytest
import torch
from captum.attr import InputXGradient, LayerAttribution, LayerGradCam, Occlusion, Saliency

from cnnedu.data import CLASS_NAMES
from cnnedu.models.resnet import resnet_mini
from cnnedu.widgets.attribution_explorer import AttributionExplorer, explorer_images


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return resnet_mini(depth=8, width=4).eval()


@pytest.fixture
def explorer(model):
    g = torch.Generator().manual_seed(1)
    images = {"a": torch.randn(1, 28, 28, generator=g), "b": torch.randn(1, 28, 28, generator=g)}
    return AttributionExplorer(model, images, CLASS_NAMES)


def zoom_value(ex) -> float:
    return float(ex.panels.zoom.split("data-value='")[1].split("'")[0])


def test_image_and_map_share_the_displayed_size(explorer):
    keys = [(p["key"], p["height"], p["width"]) for p in explorer.panels.panels]
    assert keys == [("input", 28, 28), ("map", 28, 28)]
    assert explorer.error is None and "predicted" in explorer.stats.value


def test_pointed_value_is_captums_saliency(explorer, model):
    explorer.target.value = 3
    explorer.panels.selected = [10, 17]
    x = explorer.images["a"][None]
    truth = Saliency(model).attribute(x.clone().requires_grad_(), target=3)[0, 0, 10, 17]
    assert zoom_value(explorer) == pytest.approx(float(truth), rel=1e-4, abs=1e-7)
    assert (explorer.probe_row.value, explorer.probe_col.value) == (10, 17)
    assert explorer.panels.window == {}


def test_occlusion_shows_the_patch_and_captums_value(explorer, model):
    explorer.image.value = "b"
    explorer.method.value = "occlusion"
    explorer.patch.value, explorer.stride.value = 5, 4
    explorer.target.value = 2
    explorer.panels.selected = [27, 8]
    truth = Occlusion(model).attribute(explorer.images["b"][None], sliding_window_shapes=(1, 5, 5),
                                       strides=(1, 4, 4), target=2)[0, 0, 27, 8]
    assert zoom_value(explorer) == pytest.approx(float(truth), rel=1e-4, abs=1e-6)
    # starts 0, 4, ..., 24: the patch at row 27 starts at 24 (cut at 27), at col 8 at 8
    assert explorer.panels.window == {"rows": [24, 25, 26, 27], "cols": list(range(8, 13))}
    assert "over the 2 patches covering" in explorer.panels.zoom    # row 27: 1, col 8: 2


def test_grad_cam_on_a_chosen_layer_is_captums(explorer, model):
    explorer.method.value = "grad-cam"
    explorer.layer.value = "layer2"
    explorer.target.value = 5
    explorer.panels.selected = [3, 4]
    x = explorer.images["a"][None]
    cam = LayerAttribution.interpolate(
        LayerGradCam(model, model.layer2).attribute(x, target=5, relu_attributions=True),
        (28, 28), interpolate_mode="bilinear")
    assert zoom_value(explorer) == pytest.approx(float(cam.detach()[0, 0, 3, 4]), rel=1e-4, abs=1e-7)
    assert explorer.patch.disabled and not explorer.layer.disabled


@pytest.mark.parametrize("change,words", [
    (dict(method="occlusion", patch=29), "patch must be between 1 and the image side 28, got 29"),
    (dict(method="occlusion", patch=3, stride=5), "stride must be between 1 and the patch size 3"),
    (dict(method="grad-cam", layer="fc"), "layer must output spatial maps"),
])
def test_nonsense_settings_are_refused_and_nothing_stale_stays(explorer, change, words):
    explorer.panels.selected = [4, 4]
    for name, value in change.items():
        getattr(explorer, name).value = value
    assert explorer.error is not None and words in explorer.message.value
    assert "not allowed" in explorer.message.value and "Traceback" not in explorer.message.value
    assert [p["key"] for p in explorer.panels.panels] == ["input"]
    assert explorer.panels.window == {} and explorer.panels.selected == []
    assert "cnnedu-attr-zoom" not in explorer.panels.zoom and explorer.stats.value == ""
    assert explorer.heat is None and explorer.probe_row.disabled
    explorer.method.value = "saliency"                    # back to sense: map and value back
    assert explorer.error is None and explorer.message.value == ""
    assert [p["key"] for p in explorer.panels.panels] == ["input", "map"]
    assert "cnnedu-attr-zoom" in explorer.panels.zoom


def test_play_and_sliders_walk_the_map(explorer):
    explorer.play.value = 28 * 2 + 5
    assert explorer.panels.selected == [2, 5]
    value = float(explorer.heat[2, 5])
    assert zoom_value(explorer) == pytest.approx(value)


def test_explorer_images_puts_confused_ones_first():
    x = torch.arange(6.0).view(6, 1, 1, 1).expand(6, 1, 2, 2)
    y, pred = torch.tensor([0, 1, 0, 1, 0, 2]), torch.tensor([1, 1, 1, 1, 0, 2])
    names = ["a", "b", "c"]
    chosen = explorer_images(x, y, pred, names, [("a", "b", 2)], first=2, per_pair=5)
    assert list(chosen) == ["confused: #0 a predicted b", "confused: #2 a predicted b",
                            "validation #0: a", "validation #1: b"]
    assert float(chosen["confused: #2 a predicted b"][0, 0, 0]) == 2.0


def test_target_change_reuses_the_occluded_forwards_and_stays_captums(explorer, model):
    explorer.method.value = "occlusion"
    explorer.patch.value, explorer.stride.value = 4, 2
    shown, calls = {}, []
    hook = model.register_forward_hook(lambda *_: calls.append(1))
    try:
        for target in (1, 6):
            explorer.target.value = target
            explorer.panels.selected = [13, 20]
            shown[target] = zoom_value(explorer)
    finally:
        hook.remove()
    assert calls == []          # both targets read the maps computed for the patch setting
    for target, value in shown.items():
        truth = Occlusion(model).attribute(
            explorer.images["a"][None], sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
            target=target)[0, 0, 13, 20]
        assert value == pytest.approx(float(truth), rel=1e-4, abs=1e-6)


def test_revisited_settings_show_the_same_map_without_recomputing(explorer, model):
    explorer.method.value = "smoothgrad"
    first = explorer.heat.clone()
    explorer.method.value = "saliency"
    calls = []
    hook = model.register_forward_hook(lambda *_: calls.append(1))
    try:
        explorer.method.value = "smoothgrad"
    finally:
        hook.remove()
    assert calls == [] and torch.equal(explorer.heat, first)
    assert explorer.compute_ms == 0
    assert "smoothgrad map kept from an earlier visit" in explorer.stats.value
    explorer.image.value = "b"                          # a new image: computed, and says so
    assert explorer.compute_ms > 0 and "map computed in" in explorer.stats.value


def test_saliency_and_gradient_x_input_share_one_backward_pass(explorer, model):
    explorer.target.value = 4
    explorer.method.value = "saliency"
    explorer.panels.selected = [6, 11]
    shown = {"saliency": zoom_value(explorer)}
    calls = []
    hook = model.register_forward_hook(lambda *_: calls.append(1))
    try:
        explorer.method.value = "gradient×input"
        explorer.panels.selected = [6, 11]
        shown["gradient×input"] = zoom_value(explorer)
    finally:
        hook.remove()
    assert calls == []          # the second method reads the first one's gradient
    x = explorer.images["a"][None]
    truth = {"saliency": Saliency(model).attribute(x.clone().requires_grad_(), target=4),
             "gradient×input": InputXGradient(model).attribute(x.clone().requires_grad_(),
                                                               target=4)}
    for method, value in shown.items():
        assert value == pytest.approx(float(truth[method].detach()[0, 0, 6, 11]), rel=1e-4,
                                      abs=1e-7)


def test_a_new_occlusion_setting_draws_a_labelled_preview_then_the_exact_map(explorer, model):
    shown = []
    explorer.stats.observe(lambda change: shown.append(change["new"]), names="value")
    explorer.method.value = "occlusion"
    explorer.patch.value, explorer.stride.value = 4, 2        # 13 x 13 = 169 positions
    previews = [s for s in shown if "preview from" in s]
    assert previews and "preview from 16 of 169 occluded passes" in previews[0]
    assert "occlusion map computed in" in shown[-1] and "preview" not in explorer.stats.value
    assert explorer.first_draw_ms <= explorer.last_update_ms
    explorer.panels.selected = [13, 20]                       # the exact map is what stays
    x = explorer.images["a"][None]
    predicted = int(model(x).argmax())                        # target: the predicted class
    truth = Occlusion(model).attribute(x, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
                                       target=predicted)
    assert zoom_value(explorer) == pytest.approx(float(truth[0, 0, 13, 20]), rel=1e-4, abs=1e-6)
    shown.clear()
    explorer.method.value = "saliency"
    explorer.method.value = "occlusion"                       # revisited: no preview
    assert not [s for s in shown if "preview from" in s]


def test_a_grid_small_enough_for_the_preview_is_computed_once(explorer, model):
    # patch 12, stride 6 on 28 pixels: starts 0, 6, 12, 18 -> 4 x 4 = 16 positions, within the
    # preview's 16 passes, so no preview: one unoccluded and one batched occluded forward
    shown, calls = [], []
    explorer.stats.observe(lambda change: shown.append(change["new"]), names="value")
    explorer.patch.value, explorer.stride.value = 12, 6          # still saliency: no occlusion
    hook = model.register_forward_hook(lambda *_: calls.append(1))
    try:
        explorer.method.value = "occlusion"
    finally:
        hook.remove()
    assert calls == [1, 1]
    assert not [s for s in shown if "preview from" in s] and "occlusion map computed in" in shown[-1]
