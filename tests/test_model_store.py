"""cnnedu.model_store: a kept model is the one training would give, and only that one is loaded.

The store's promise rests on training being deterministic on one machine: the truth each test
compares with is a fresh training, not the store's own record.
"""

import copy
import dataclasses
import time
import warnings
from pathlib import Path

import pytest
import torch

from cnnedu import config
from cnnedu.data import FashionMNIST
from cnnedu.model_store import (
    keep_recipe_model,
    load_recipe_model,
    recipe_model,
    run_key,
    shown_path,
    store_dir,
)
from cnnedu.models.resnet import resnet_mini
from cnnedu.recipes import get_recipe
from cnnedu.splits import subset
from cnnedu.train import fit

STEPS = 2   # steps per epoch: enough to move every weight, cheap on one thread


@pytest.fixture(scope="module")
def images() -> FashionMNIST:
    return subset(FashionMNIST("train", root="bundled"), range(512))


@pytest.fixture
def recipe():
    return dataclasses.replace(get_recipe("resnet"), epochs=1)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNEDU_MODEL_STORE", str(tmp_path / "store"))
    return tmp_path / "store"


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().contiguous() for name, value in
            model.state_dict().items()}


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def train_as_lesson_04(recipe, images, seed=0):
    """Lesson 04's training cell, its validation loader and all: the path that keeps a model."""
    config.seed_everything(seed)
    model = recipe.build()
    start = time.perf_counter()
    history = fit(model, recipe.train_loader(images, "cpu", seed=seed),
                  recipe.test_loader(subset(images, range(64)), "cpu"), device="cpu",
                  eval_name="validation", max_batches=STEPS, progress=False,
                  **recipe.fit_kwargs())
    return model, history, time.perf_counter() - start


def test_store_folder_is_the_variable_or_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNEDU_MODEL_STORE", str(tmp_path))
    assert store_dir() == tmp_path
    monkeypatch.delenv("CNNEDU_MODEL_STORE")
    assert store_dir() == Path.home() / ".cache/cnnedu/models"


def test_a_model_trained_twice_has_the_same_weights(recipe, images, store):
    """What makes loading honest: the same inputs train the same weights, so a second training
    would only cost time (a fresh store each time, so both really train)."""
    first = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    for path in store.iterdir():
        path.unlink()
    second = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    assert not first.loaded and not second.loaded
    assert_same_weights(first.model, second.model)


def test_lesson_04s_kept_model_is_what_lesson_07_would_train(recipe, images, store, tmp_path,
                                                             monkeypatch):
    model, history, seconds = train_as_lesson_04(recipe, images)
    path = keep_recipe_model(model, recipe, images, seed=0, device="cpu",
                             precision=history.precision, epochs=len(history.epoch),
                             train_seconds=seconds, max_batches=STEPS)
    assert path is not None and path.parent == store and path.is_file()
    loaded = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    assert loaded.loaded and loaded.path == path
    assert (loaded.precision, loaded.epochs) == (history.precision, 1)
    assert loaded.train_seconds == pytest.approx(seconds)
    assert not loaded.model.training
    assert "loaded the kept model" in str(loaded) and "1 epochs" in str(loaded)
    monkeypatch.setenv("CNNEDU_MODEL_STORE", str(tmp_path / "empty"))
    fresh = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    assert not fresh.loaded and "trained now" in str(fresh)
    assert_same_weights(loaded.model, fresh.model)
    assert_same_weights(loaded.model, model)


def test_a_model_trained_here_is_kept_and_loaded_next_time(recipe, images, store):
    trained = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    again = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    assert not trained.loaded and again.loaded
    assert_same_weights(trained.model, again.model)


@pytest.mark.parametrize("change", ["seed", "one label", "learning rate", "architecture",
                                    "step limit", "threads"])
def test_anything_that_decides_the_weights_makes_a_kept_model_unusable(change, recipe, images,
                                                                        store, monkeypatch):
    kept = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    assert kept.path.is_file()
    seed, steps = 0, STEPS
    if change == "seed":
        seed = 1
    elif change == "one label":
        labels = images.labels.clone()
        labels[0] = (labels[0] + 1) % 10
        images = copy.copy(images)
        images.labels = labels
    elif change == "learning rate":
        recipe = dataclasses.replace(recipe, lr=recipe.lr / 2)
    elif change == "architecture":
        recipe = dataclasses.replace(recipe, build=lambda: resnet_mini(8, 8))
    elif change == "step limit":
        steps = STEPS + 1
    else:
        threads = torch.get_num_threads()
        monkeypatch.setattr(torch, "get_num_threads", lambda: threads + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # other settings are no error: simply not kept
        assert load_recipe_model(recipe, images, seed=seed, device="cpu",
                                 max_batches=steps) is None


def test_the_key_leaves_the_callers_random_numbers_alone(recipe, images):
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    run_key(recipe, images, seed=0, device="cpu", max_batches=STEPS)
    assert torch.equal(torch.rand(4), expected)


def test_an_unreadable_or_foreign_kept_file_is_ignored_with_a_warning(recipe, images, store):
    trained = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    whole = trained.path.read_bytes()
    for broken in (b"not a checkpoint", whole[: len(whole) // 2]):
        trained.path.write_bytes(broken)
        with pytest.warns(UserWarning, match="cannot be read"):
            assert load_recipe_model(recipe, images, seed=0, device="cpu",
                                     max_batches=STEPS) is None
    torch.save({"model": 1}, trained.path)     # a checkpoint, but not one kept here
    with pytest.warns(UserWarning, match="cannot be read"):
        assert load_recipe_model(recipe, images, seed=0, device="cpu",
                                 max_batches=STEPS) is None


def test_a_store_that_cannot_be_written_costs_the_saving_not_the_lesson(recipe, images,
                                                                        tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("CNNEDU_MODEL_STORE", str(blocker / "store"))   # under a file: no folder
    with pytest.warns(UserWarning, match="could not keep the trained model"):
        trained = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    assert not trained.loaded and not trained.model.training


def test_paths_in_the_home_folder_are_shown_with_a_tilde():
    assert shown_path(Path.home() / ".cache/cnnedu/models/x.pt") == "~/.cache/cnnedu/models/x.pt"
    assert shown_path(Path("/elsewhere/x.pt")) == "/elsewhere/x.pt"
