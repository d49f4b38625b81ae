"""The feature-map viewer widget and the training-comparison helper."""

import io
from functools import partial

import torch
from PIL import Image

from cnnedu.curves import smoothed
from cnnedu.data import FashionMNIST
from cnnedu.experiments import compare_training
from cnnedu.features import feature_maps
from cnnedu.models.alexnet import AlexNet
from cnnedu.widgets.feature_viewer import BIG, FeatureMapViewer, tile_maps


def test_viewer_shows_the_chosen_layer_for_the_chosen_image():
    torch.manual_seed(0)
    model = AlexNet()
    images = {"a": torch.randn(1, 28, 28), "b": torch.randn(1, 28, 28)}
    viewer = FeatureMapViewer(model, images, max_maps=8)
    first = viewer.view.panels[0]["src"]
    torch.testing.assert_close(viewer.maps(), feature_maps(model, images["a"][None])["features.0"][0])
    viewer.layer.value = "features.6"
    assert viewer.view.panels[0]["src"] != first and "6×6" in viewer.label.value
    viewer.image.value = "b"
    torch.testing.assert_close(viewer.maps(), feature_maps(model, images["b"][None])["features.6"][0])


def test_tile_maps_lays_out_a_grid():
    mosaic = tile_maps(torch.rand(10, 7, 7), columns=4, tile=14, gap=2)
    assert mosaic.shape == (3 * 16 - 2, 4 * 16 - 2, 3) and mosaic.dtype.name == "uint8"


def test_compare_training_gives_models_identical_data():
    train = FashionMNIST("train", limit=300)
    builders = {"a": partial(AlexNet, width=0.25), "b": partial(AlexNet, width=0.25)}
    runs = compare_training(builders, train, None, epochs=1, batch_size=50, max_batches=3,
                            progress=False, optimizer="adamw", lr=1e-3)
    assert runs["a"].step_loss == runs["b"].step_loss      # same seed, same model, same data


def test_smoothed_is_a_running_mean():
    assert smoothed([1, 2, 3, 4], window=2) == [1, 1.5, 2.5, 3.5]


def test_compare_over_seeds_repeats_compare_training_per_seed():
    from cnnedu.experiments import compare_over_seeds

    train = FashionMNIST("train", limit=300)
    kwargs = dict(batch_size=50, max_batches=3, optimizer="adamw", lr=1e-3)
    builders = {"a": partial(AlexNet, width=0.25)}
    runs = compare_over_seeds(builders, train, None, epochs=1, seeds=(0, 1), progress=False,
                              **kwargs)
    assert len(runs["a"]) == 2
    for seed, history in zip((0, 1), runs["a"], strict=True):
        alone = compare_training(builders, train, None, epochs=1, seed=seed, progress=False,
                                 **kwargs)["a"]
        assert history.step_loss == alone.step_loss
    assert runs["a"][0].step_loss != runs["a"][1].step_loss


def test_compare_over_seeds_needs_a_seed():
    import pytest

    from cnnedu.experiments import compare_over_seeds

    with pytest.raises(ValueError, match="seeds"):
        compare_over_seeds({"a": AlexNet}, FashionMNIST("train", limit=10), None, 1, seeds=())


def test_spread_text_and_final_train_loss():
    from cnnedu.experiments import final_train_loss, spread, spread_text
    from cnnedu.train import History

    assert spread([0.5, 0.25, 1.0]) == (sum([0.5, 0.25, 1.0]) / 3, 0.25, 1.0)
    assert spread_text([0.5, 1.0], digits=2) == "0.75 [0.50, 1.00]"
    assert spread_text([0.5, float("nan")]) == "diverged"
    history = History(step_loss=[4.0, 2.0, 1.0, float("nan")])
    assert final_train_loss(History(step_loss=[4.0, 2.0, 1.0]), tail=2) == 1.5
    assert final_train_loss(history) != final_train_loss(history)      # NaN stays NaN


def test_reestimate_batchnorm_gives_the_average_of_the_batches():
    from torch import nn

    from cnnedu.experiments import reestimate_batchnorm

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
    model[1].running_mean.fill_(7.0)                     # stale statistics
    batches = [(torch.randn(8, 1, 6, 6) + i, torch.zeros(8)) for i in range(4)]
    reestimate_batchnorm(model.eval(), batches, batches=3)
    with torch.no_grad():
        means = torch.stack([model[0](x).mean(dim=(0, 2, 3)) for x, _ in batches[:3]])
    torch.testing.assert_close(model[1].running_mean, means.mean(0))
    assert model[1].momentum == 0.1 and not model.training
    weight = model[0].weight.clone()
    reestimate_batchnorm(model, batches)
    assert torch.equal(weight, model[0].weight)          # statistics only, no weight change


def test_gradient_spread_matches_autograd():
    from torch import nn

    from cnnedu.experiments import gradient_spread

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    hidden = model[0](x)
    loss = nn.functional.cross_entropy(model[2](model[1](hidden)), y)
    (expected,) = torch.autograd.grad(loss, hidden)
    spreads = gradient_spread(model, x, y, ["0"])
    assert abs(spreads["0"] - expected.std().item()) < 1e-7
    assert all(p.grad is None for p in model.parameters())


def test_seconds_per_training_step_rejects_no_steps():
    import pytest

    from cnnedu.experiments import seconds_per_training_step

    assert seconds_per_training_step(partial(AlexNet, width=0.25), (4, 1, 28, 28), steps=1) > 0
    with pytest.raises(ValueError, match="steps"):
        seconds_per_training_step(AlexNet, (4, 1, 28, 28), steps=0)


def test_ablate_recipe_changes_only_the_named_settings():
    import dataclasses

    import pytest

    from cnnedu.experiments import ablate_recipe
    from cnnedu.recipes import get_recipe

    recipe = dataclasses.replace(get_recipe("alexnet"), build=partial(AlexNet, width=0.25),
                                 batch_size=50)
    train, test = FashionMNIST("train", limit=200), FashionMNIST("test", limit=100)
    runs = ablate_recipe(recipe, {"recipe": {}, "again": {}, "no smoothing": {"label_smoothing": 0.0}},
                         train, test, epochs=1, max_batches=3, progress=False)
    assert runs["recipe"].step_loss == runs["again"].step_loss        # seeded alike
    assert runs["recipe"].step_loss != runs["no smoothing"].step_loss
    with pytest.raises(ValueError, match="unknown settings"):
        ablate_recipe(recipe, {"bad": {"colour": 1}}, train, test, epochs=1, progress=False)


def test_viewer_pages_through_all_maps_and_names_the_layer():
    torch.manual_seed(0)
    model = AlexNet()                                   # conv2 (features.3) has 64 maps
    viewer = FeatureMapViewer(model, {"a": torch.randn(1, 28, 28)}, max_maps=16)
    viewer.layer.value = "features.3"
    assert viewer.page.max == 4 and "conv2" in viewer.label.value
    assert "before ReLU" in viewer.label.value and "maps 0-15" in viewer.label.value
    first = viewer.view.panels[0]["src"]
    viewer.page.value = 4
    assert viewer.view.panels[0]["src"] != first and "maps 48-63" in viewer.label.value
    viewer.enlarge.value = 63
    assert "map 63" in viewer.big_label.value and viewer.error is None
    side = viewer.maps().shape[-1]
    with Image.open(io.BytesIO(viewer.big.value)) as big:      # enlarged to about 300 px
        assert big.size == (side * (BIG // side),) * 2 and big.size[0] >= 280


def test_common_colour_scale_shows_a_dead_map_as_the_lowest_colour():
    maps = torch.stack([torch.zeros(4, 4), ((torch.arange(16) - 4) / 4).reshape(4, 4)])
    own = tile_maps(maps, columns=2, tile=4, gap=0)
    common = tile_maps(maps, columns=2, tile=4, gap=0, vmin=-1.0, vmax=2.75)
    # own scale: the all-zero map is drawn with the lowest colour anyway; common scale: it gets
    # the colour of 0 in the live map, part-way up the scale
    assert (own[:, :4] == own[0, 4]).all()
    zero_in_live = common[:, 4:][maps[1].numpy() == 0][0]
    assert (common[:, :4] == zero_in_live).all()
    assert not (common[:, :4] == common[0, 4]).all()


def test_clicking_a_map_in_the_grid_enlarges_it_and_frames_its_tile():
    torch.manual_seed(0)
    model = AlexNet()
    viewer = FeatureMapViewer(model, {"a": torch.randn(1, 28, 28)}, max_maps=16)
    viewer.layer.value = "features.3"                  # 64 maps
    viewer.page.value = 2                              # maps 16-31
    assert viewer.view.panels[0]["click_only"] and viewer.view.panels[0]["hover"]
    side = viewer.maps().shape[-1] * (64 // viewer.maps().shape[-1])   # drawn size of one map
    tile = side + 2                                    # tile plus gap
    viewer.view.selected = [1 * tile + 10, 2 * tile + 30]   # grid row 1, column 2
    assert viewer.enlarge.value == 16 + 1 * 8 + 2
    assert "map 26" in viewer.big_label.value
    maps = viewer.maps()
    assert f"max {float(maps[26].max()):.2f}" in viewer.big_label.value
    window = viewer.view.window
    assert window["rows"][0] == 1 * tile and window["rows"][-1] == 1 * tile + side - 1
    assert window["cols"][0] == 2 * tile and len(window["cols"]) == side
    viewer.view.selected = [1 * tile + side, 5]          # the gap between two rows: no change
    assert viewer.enlarge.value == 26
    viewer.page.value = 1                              # map 26 is not on page 1: no frame
    assert viewer.view.window == {} and "map 26" in viewer.big_label.value
