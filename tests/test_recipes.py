"""The lessons' recipes build the loaders they train on (one place, so lessons and benchmark agree)."""

from dataclasses import replace

import pytest
import torch

from cnnedu.data import FashionMNIST, normalize
from cnnedu.recipes import RECIPES


@pytest.fixture(scope="module")
def data():
    return FashionMNIST("train", limit=600), FashionMNIST("test", limit=250)


@pytest.mark.parametrize("lesson", sorted(RECIPES))
def test_train_loader_follows_the_recipe(data, lesson):
    recipe = RECIPES[lesson]
    loader = recipe.train_loader(data[0], "cpu", seed=1)
    x, y = next(iter(loader))
    assert len(loader) == -(-600 // recipe.batch_size) and x.shape[0] == recipe.batch_size
    assert x.is_contiguous(memory_format=torch.channels_last) == recipe.channels_last
    assert not torch.equal(y, data[0].labels[:recipe.batch_size])          # shuffled
    again = next(iter(recipe.train_loader(data[0], "cpu", seed=1)))
    assert torch.equal(again[0], x) and torch.equal(again[1], y)            # seeded
    flat = replace(recipe, channels_last=False, augment=False)
    plain_x, plain_y = next(iter(flat.train_loader(data[0], "cpu", seed=1)))
    assert torch.equal(plain_y, y) and plain_x.is_contiguous()
    # augmentation flips about half the images of the batch; without it they are untouched
    assert recipe.augment and not torch.equal(plain_x, x)


def test_test_loader_is_in_order_and_unaugmented(data):
    recipe = RECIPES["alexnet"]
    batches = list(recipe.test_loader(data[1], "cpu", batch_size=100))
    assert [len(y) for _, y in batches] == [100, 100, 50]
    x = torch.cat([b[0] for b in batches])
    assert torch.equal(x, normalize(data[1].images).unsqueeze(1))
    assert batches[0][0].is_contiguous(memory_format=torch.channels_last) == recipe.channels_last


@pytest.mark.parametrize("lesson", sorted(RECIPES))
def test_fit_kwargs_carry_every_training_setting_of_the_recipe(lesson):
    recipe = RECIPES[lesson]
    assert recipe.fit_kwargs() == {
        "epochs": recipe.epochs, "optimizer": recipe.optimizer, "lr": recipe.lr,
        "weight_decay": recipe.weight_decay, "scheduler": recipe.scheduler,
        "label_smoothing": recipe.label_smoothing, "channels_last": recipe.channels_last,
        "precision": recipe.precision, "eval_flip": recipe.eval_flip}


def test_a_recipe_without_shift_only_flips(data):
    """The recipes use shift=0: every augmented image is the original or its mirror image."""
    recipe = replace(RECIPES["resnet"], channels_last=False)
    assert recipe.shift == 0
    x, y = next(iter(recipe.train_loader(data[0], "cpu", seed=2)))
    plain_x, _ = next(iter(replace(recipe, augment=False).train_loader(data[0], "cpu", seed=2)))
    same = (x == plain_x).flatten(1).all(1)
    mirrored = (x == plain_x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and mirrored.any() and same.any()

