"""cnnedu.model_store: a kept model is the one training would give, and only that one is loaded.

The store's promise rests on training being deterministic on one machine: the truth each test
compares with is a fresh training, not the store's own record.
"""

import copy
import dataclasses
import warnings
from pathlib import Path

import pytest
import torch

from cnnedu import config, model_store
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
SOURCES = Path(__file__).resolve().parents[1] / "scripts" / "notebook_src"


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


def lesson_cell(lesson: str, marker: str) -> str:
    """The code cell of ``scripts/notebook_src/<lesson>*.py`` that contains ``marker``."""
    source = next(SOURCES.glob(f"{lesson}_*.py")).read_text()
    cells = [cell for cell in source.split("\n# %%") if marker in cell and
             not cell.startswith(" [markdown]")]
    assert len(cells) == 1, f"{len(cells)} code cells of lesson {lesson} contain {marker!r}"
    return cells[0]


def train_one(recipe, images, seed=0, steps=STEPS):
    """A training the way ``recipe_model`` promises it, written out: the independent truth."""
    config.seed_everything(seed)
    model = recipe.build()
    history = fit(model, recipe.train_loader(images, "cpu", seed=seed), device="cpu",
                  max_batches=steps, progress=False, **recipe.fit_kwargs())
    return model, history


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


def test_lesson_04s_kept_model_is_what_lesson_07_would_train(images, store, tmp_path,
                                                             monkeypatch):
    """Lesson 04's own training cell (quick mode: 5 steps per epoch) keeps a model; lesson 07's
    call loads it, and it equals what that call trains in an empty store."""
    cell = lesson_cell("04", "keep_recipe_model(")
    place = {"QUICK": True, "device": "cpu", "config": config, "FashionMNIST": FashionMNIST,
             "fit_part": images, "val_part": subset(images, range(128))}
    exec(compile(cell, "lesson 04's training cell", "exec"), place)   # noqa: S102
    assert place["kept"] is not None and place["kept"].parent == store
    recipe = place["recipe"]
    loaded = recipe_model(recipe, images, "cpu", max_batches=5, progress=False)
    assert loaded.loaded and loaded.path == place["kept"]
    assert (loaded.precision, loaded.epochs) == (place["history"].precision, recipe.epochs)
    assert loaded.train_seconds == pytest.approx(place["seconds"])
    assert not loaded.model.training
    assert "loaded the kept model" in str(loaded)
    monkeypatch.setenv("CNNEDU_MODEL_STORE", str(tmp_path / "empty"))
    fresh = recipe_model(recipe, images, "cpu", max_batches=5, progress=False)
    assert not fresh.loaded and "trained now" in str(fresh)
    assert_same_weights(loaded.model, fresh.model)
    assert_same_weights(loaded.model, place["model"])


def test_lesson_07_asks_for_the_model_lesson_04_keeps():
    """The two lessons' calls name the same recipe, seed and quick-mode step limit."""
    keep = lesson_cell("04", "keep_recipe_model(")
    ask = lesson_cell("07", "recipe_model(")
    assert 'get_recipe("resnet")' in keep and 'get_recipe("resnet")' in ask
    assert "seed=0" in keep and "seed=0" in ask
    assert "max_batches=5 if QUICK else None" in keep and \
        "max_batches=5 if QUICK else None" in ask


def test_a_model_trained_twice_by_hand_equals_the_store_s(recipe, images, store):
    trained = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    model, history = train_one(recipe, images)
    assert_same_weights(trained.model, model)
    assert trained.precision == history.precision


def test_a_model_trained_here_is_kept_and_loaded_next_time(recipe, images, store):
    trained = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    again = recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    assert not trained.loaded and again.loaded
    assert_same_weights(trained.model, again.model)


@pytest.mark.parametrize("change", ["seed", "one label", "learning rate", "architecture",
                                    "step limit", "threads", "precision", "torch version",
                                    "CPU instruction set", "CPU model", "package source"])
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
    elif change == "threads":
        threads = torch.get_num_threads()
        monkeypatch.setattr(torch, "get_num_threads", lambda: threads + 1)
    elif change == "precision":
        monkeypatch.setenv("CNNEDU_PRECISION", "fp32" if kept.precision == "bf16" else "bf16")
    elif change == "torch version":
        monkeypatch.setattr(torch, "__version__", "0.0.0")
    elif change == "CPU instruction set":
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "another")
    elif change == "CPU model":
        monkeypatch.setattr(model_store, "cpu_name", lambda: "another")
    else:
        monkeypatch.setattr(model_store, "package_digest", lambda: "another")
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
    for foreign in ({"model": 1}, {"model": {}, "extra": 1}, {"model": {}, "extra": {}}):
        torch.save(foreign, trained.path)     # a checkpoint, but not one kept here
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


def test_the_package_digest_follows_every_source_file(tmp_path, monkeypatch):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "loop.py").write_text("steps = 1\n")
    (tmp_path / "recipes.py").write_text("lr = 0.1\n")
    (tmp_path / "notes.txt").write_text("not code")
    monkeypatch.setattr(model_store, "PACKAGE", tmp_path)
    before = model_store.package_digest()
    (tmp_path / "notes.txt").write_text("still not code")
    assert model_store.package_digest() == before
    (tmp_path / "train" / "loop.py").write_text("steps = 2\n")
    assert model_store.package_digest() != before
    (tmp_path / "train" / "loop.py").write_text("steps = 1\n")
    assert model_store.package_digest() == before
    (tmp_path / "recipes.py").rename(tmp_path / "recipe.py")
    assert model_store.package_digest() != before


def test_only_cpu_training_is_kept(recipe, images, store):
    """cuDNN's backward is not deterministic by default: a GPU-trained model is never kept, and
    a CPU-trained one is not loaded for a GPU (the key names the device; no GPU needed: neither
    call trains)."""
    model = recipe.build()
    assert keep_recipe_model(model, recipe, images, seed=0, device="cuda", precision="bf16",
                             epochs=recipe.epochs, train_seconds=1.0) is None
    assert not store.exists() or not any(store.iterdir())
    recipe_model(recipe, images, "cpu", max_batches=STEPS, progress=False)
    assert load_recipe_model(recipe, images, seed=0, device="cuda", max_batches=STEPS) is None


def test_a_training_that_is_not_the_recipes_is_not_kept(recipe, images, store):
    model, history = train_one(recipe, images)
    for epochs, precision in ((recipe.epochs + 1, history.precision),
                              (recipe.epochs, "fp32" if history.precision == "bf16" else "bf16")):
        with pytest.warns(UserWarning, match="not kept"):
            assert keep_recipe_model(model, recipe, images, seed=0, device="cpu",
                                     precision=precision, epochs=epochs, train_seconds=1.0,
                                     max_batches=STEPS) is None
    assert not store.exists() or not any(store.iterdir())


def test_the_cpu_name_is_read_from_cpuinfo(tmp_path, monkeypatch):
    """The first processor's identity, numbers included: two cloud CPUs that both call
    themselves "AMD EPYC" (Zen 4 is family 25, Zen 5 family 26) must not share a kept model."""
    info = tmp_path / "cpuinfo"
    block = ("processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: {family}\n"
             "model\t\t: 2\nmodel name\t: AMD EPYC\nstepping\t: 1\nflags\t\t: fpu avx512f\n")
    monkeypatch.setattr(model_store, "CPUINFO", info)
    info.write_text(block.format(n=0, family=26) + "\n" + block.format(n=1, family=99))
    assert model_store.cpu_name() == "AuthenticAMD | 26 | 2 | 1 | AMD EPYC"
    info.write_text(block.format(n=0, family=25))
    assert model_store.cpu_name() == "AuthenticAMD | 25 | 2 | 1 | AMD EPYC"
    info.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8488C\n")
    assert model_store.cpu_name() == "Intel(R) Xeon(R) Platinum 8488C"
    # Arm (Graviton 3 and 4 here): no model name, but implementer and part numbers
    arm = ("processor\t: 0\nBogoMIPS\t: 2000.00\nFeatures\t: fp asimd bf16\n"
           "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x{variant}\n"
           "CPU part\t: 0x{part}\nCPU revision\t: 1\n")
    info.write_text(arm.format(variant=1, part="d40"))
    assert model_store.cpu_name() == "0x41 | 8 | 0x1 | 0xd40 | 1"
    info.write_text(arm.format(variant=0, part="d4f"))
    assert model_store.cpu_name() == "0x41 | 8 | 0x0 | 0xd4f | 1"
    info.write_text("processor\t: 0\n")
    assert model_store.cpu_name() == ""
    monkeypatch.setattr(model_store, "CPUINFO", tmp_path / "none")
    assert model_store.cpu_name() == ""
