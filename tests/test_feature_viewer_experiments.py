"""The feature-map viewer widget and the training-comparison helper."""

from functools import partial

import torch

from cnnedu.data import FashionMNIST
from cnnedu.experiments import compare_training, smoothed
from cnnedu.features import feature_maps
from cnnedu.models.alexnet import AlexNet
from cnnedu.widgets.feature_viewer import FeatureMapViewer, tile_maps


def test_viewer_shows_the_chosen_layer_for_the_chosen_image():
    torch.manual_seed(0)
    model = AlexNet()
    images = {"a": torch.randn(1, 28, 28), "b": torch.randn(1, 28, 28)}
    viewer = FeatureMapViewer(model, images, max_maps=8)
    first = viewer.view.value
    torch.testing.assert_close(viewer.maps(), feature_maps(model, images["a"][None])["features.0"][0])
    viewer.layer.value = "features.6"
    assert viewer.view.value != first and "6×6" in viewer.label.value
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


def test_train_with_budget_sizes_the_run_to_the_time():
    from cnnedu.experiments import train_with_budget

    train, test = FashionMNIST("train", limit=512), FashionMNIST("test", limit=200)
    model, history, steps = train_with_budget(partial(AlexNet, width=0.25), train, test,
                                              seconds=0.5, batch_size=64, progress=False,
                                              optimizer="adamw", lr=1e-3)
    assert steps >= 1 and len(history.step_loss) == steps
    assert 0 <= history.final_test_acc <= 1 and not model.training


def test_split_steps_uses_the_whole_budget():
    from cnnedu.experiments import split_steps

    assert split_steps(800, 469) == (2, 400)
    assert split_steps(469, 469) == (1, 469)
    assert split_steps(100, 469) == (1, 100)
    assert split_steps(1500, 469) == (4, 375)
    assert split_steps(0, 469) == (1, 1)
