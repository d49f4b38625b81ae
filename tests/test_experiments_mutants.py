"""cnnedu.experiments, the parts a planted bug (mutation run, tests/MUTANTS.md) slipped past: the
progress bars a learner watches, what each helper hands to ``fit`` and the loaders, and the
small statistics, each against a hand-computed value or a fake clock.

(``train_with_budget`` is left to the tests of its rewrite.)
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import pytest
import torch
from torch import nn

from cnnedu import experiments
from cnnedu.data import FashionMNIST
from cnnedu.train import History


class Bar:
    """Stands in for tqdm: keeps what it was told."""

    made: list[Bar] = []

    def __init__(self, *args, **kwargs):
        self.kwargs, self.postfix, self.updates, self.closed = kwargs, [], 0, False
        Bar.made.append(self)

    def set_postfix_str(self, text):
        self.postfix.append(text)

    def update(self, n=1):
        self.updates += n

    def close(self):
        self.closed = True


@pytest.fixture
def bars(monkeypatch):
    Bar.made = []
    monkeypatch.setattr(experiments, "tqdm", Bar)
    return Bar.made


def test_over_seeds_runs_seeds_outside_models_inside_under_one_bar(bars):
    calls = []
    builders = {"a": lambda: "A", "b": lambda: "B"}
    out = experiments.over_seeds(builders, (5, 7, 9),
                                 lambda name, build, seed: calls.append((name, build(), seed))
                                 or f"{name}{seed}")
    assert calls == [("a", "A", 5), ("b", "B", 5), ("a", "A", 7), ("b", "B", 7), ("a", "A", 9),
                     ("b", "B", 9)]
    assert out == {"a": ["a5", "a7", "a9"], "b": ["b5", "b7", "b9"]}
    bar, = bars
    assert bar.kwargs == {"total": 6, "desc": "runs", "unit": "run", "disable": False}
    assert bar.postfix == ["a, seed 5", "b, seed 5", "a, seed 7", "b, seed 7", "a, seed 9",
                           "b, seed 9"]
    assert bar.updates == 6 and bar.closed
    experiments.over_seeds(builders, (0,), lambda *a: 0, progress=False)
    assert bars[1].kwargs["disable"] is True
    with pytest.raises(ValueError, match=r"seeds must name at least one seed, got an empty"):
        experiments.over_seeds(builders, (), lambda *a: 0)


def spy_fit(monkeypatch, calls):
    def fake_fit(model, train_loader, test_loader=None, **kwargs):
        calls.append({"model": model, "train": train_loader, "test": test_loader, **kwargs})
        return History(step_loss=[float(len(calls))])

    monkeypatch.setattr(experiments, "fit", fake_fit)


def test_compare_training_hands_its_settings_to_the_loaders_and_fit(monkeypatch):
    calls = []
    spy_fit(monkeypatch, calls)
    train, test = FashionMNIST("train", limit=64), FashionMNIST("test", limit=32)
    out = experiments.compare_training({"x": lambda: nn.Linear(1, 1), "y": lambda: nn.Linear(2, 1)},
                                       train, test, epochs=3, batch_size=16, max_batches=2,
                                       seed=4, device="cpu", progress=False,
                                       channels_last=True, lr=0.01)
    assert list(out) == ["x", "y"] and [h.step_loss for h in out.values()] == [[1.0], [2.0]]
    for call in calls:
        loader, test_loader = call["train"], call["test"]
        assert (loader.batch_size, loader.shuffle, loader.channels_last) == (16, True, True)
        assert (test_loader.batch_size, test_loader.shuffle, test_loader.augment) == \
            (1000, False, False)
        assert test_loader.dataset is test and loader.dataset is train
        assert {k: call[k] for k in ("epochs", "max_batches", "progress", "lr",
                                     "channels_last")} == \
            {"epochs": 3, "max_batches": 2, "progress": False, "lr": 0.01, "channels_last": True}
        assert call["device"] == torch.device("cpu")
    assert calls[1]["model"].in_features == 2
    spy_fit(monkeypatch, calls := [])
    experiments.compare_training({"x": lambda: nn.Linear(1, 1)}, train, None, epochs=1,
                                 device="cpu")
    assert calls[0]["test"] is None and calls[0]["progress"] is True
    assert calls[0]["train"].channels_last is False and calls[0]["epochs"] == 1
    assert calls[0]["train"].batch_size == 128                # the default batch size


def test_compare_training_seeds_each_model_alike(monkeypatch):
    """Truth: with the same seed two builds of the same architecture start identical."""
    calls = []
    spy_fit(monkeypatch, calls)
    train = FashionMNIST("train", limit=32)
    experiments.compare_training({"a": lambda: nn.Linear(3, 3), "b": lambda: nn.Linear(3, 3)},
                                 train, None, epochs=1, seed=6, device="cpu", progress=False)
    first, second = (c["model"] for c in calls)
    torch.manual_seed(6)
    assert torch.equal(first.weight, second.weight)
    assert torch.equal(first.weight, nn.Linear(3, 3).weight)


def test_compare_over_seeds_passes_each_seed_and_the_settings(monkeypatch, bars):
    seen = []

    def fake_compare(builders, train, test, epochs, seed=0, progress=True, **kwargs):
        seen.append((list(builders), train, test, epochs, seed, progress, kwargs))
        return {name: History(step_loss=[seed]) for name in builders}

    monkeypatch.setattr(experiments, "compare_training", fake_compare)
    out = experiments.compare_over_seeds({"m": None}, "train", "test", 2, seeds=(3, 4),
                                         batch_size=8)
    assert [h.step_loss for h in out["m"]] == [[3], [4]]
    assert seen == [(["m"], "train", "test", 2, seed, False, {"batch_size": 8})
                    for seed in (3, 4)]
    assert bars[0].kwargs["total"] == 2 and bars[0].kwargs["disable"] is False
    experiments.compare_over_seeds({"m": None}, "train", "test", 1, progress=False)
    assert [s[4] for s in seen[2:]] == [0, 1, 2] and bars[1].kwargs["disable"] is True


def test_final_train_loss_is_the_mean_of_the_last_30_steps():
    history = History(step_loss=[100.0] * 10 + [float(i) for i in range(30)])
    assert experiments.final_train_loss(history) == pytest.approx(14.5)
    assert experiments.final_train_loss(history, tail=2) == pytest.approx(28.5)
    assert math.isnan(experiments.final_train_loss(History(step_loss=[1.0, float("inf")])))


def test_spread_and_its_text():
    assert experiments.spread([0.5, 0.25, 0.75]) == (0.5, 0.25, 0.75)
    assert all(math.isnan(v) for v in experiments.spread([0.5, float("nan")]))
    assert all(math.isnan(v) for v in experiments.spread([float("inf"), 1.0]))
    assert experiments.spread_text([0.5, 0.25, 0.75]) == "0.500 [0.250, 0.750]"
    assert experiments.spread_text([1.0, 2.0], digits=1) == "1.5 [1.0, 2.0]"
    assert experiments.spread_text([1.0, float("nan")]) == "diverged"


def test_reestimate_batchnorm_sees_the_first_50_batches_by_default():
    """Truth: with momentum None and equal batches, the running mean is the mean of the
    first 50 batch means; batch 51 on (huge values) must not count."""
    model = nn.Sequential(nn.BatchNorm2d(1))
    batches = [(torch.full((2, 1, 2, 2), float(i)), None) for i in range(50)]
    batches += [(torch.full((2, 1, 2, 2), 1e6), None)] * 5
    experiments.reestimate_batchnorm(model, batches)
    assert model[0].running_mean.item() == pytest.approx(sum(range(50)) / 50)


def test_gradient_spread_names_missing_modules_and_restores_the_mode():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).eval()
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 0, 1, 1])
    with pytest.raises(ValueError, match=r"no module named \['9', 'x'\] in the model"):
        experiments.gradient_spread(model, x, y, ["0", "9", "x"])
    spreads = experiments.gradient_spread(model, x, y, ["2", "0"])
    assert list(spreads) == ["2", "0"] and not model.training
    assert all(p.grad is None for p in model.parameters())
    out = model(x)                          # truth: d loss / d output, by autograd directly
    out.retain_grad()
    nn.functional.cross_entropy(out, y).backward()
    assert spreads["2"] == pytest.approx(out.grad.std().item(), rel=1e-5)


def fake_clock(monkeypatch, durations):
    ticks = iter(t for d in durations for t in (0.0, d))
    monkeypatch.setattr(experiments.time, "perf_counter", lambda: next(ticks))


def test_seconds_per_training_step_is_the_median_after_the_first(monkeypatch):
    fake_clock(monkeypatch, [9.0, 0.5, 0.1, 0.3])          # warm-up, then 0.5, 0.1, 0.3
    forwards = []
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 10))
    model.register_forward_hook(lambda m, i, o: forwards.append(i[0].shape))
    seconds = experiments.seconds_per_training_step(lambda: model, (3, 1, 2, 2), steps=3,
                                                    device="cpu")
    assert seconds == 0.3 and forwards == [(3, 1, 2, 2)] * 4
    with pytest.raises(ValueError, match=r"steps must be at least 1, got 0"):
        experiments.seconds_per_training_step(lambda: model, (3, 1, 2, 2), steps=0)


def test_seconds_per_training_step_trains_in_the_asked_layout(monkeypatch):
    layouts = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 10, 2)

        def forward(self, x):
            layouts.append((x.is_contiguous(memory_format=torch.channels_last),
                            self.conv.weight.is_contiguous(memory_format=torch.channels_last)))
            return self.conv(x).flatten(1)

    experiments.seconds_per_training_step(Probe, (2, 3, 3, 3), channels_last=True, steps=1,
                                          device="cpu")
    experiments.seconds_per_training_step(Probe, (2, 3, 3, 3), steps=1, device="cpu")
    assert layouts == [(True, True)] * 2 + [(False, False)] * 2


def test_ablate_recipe_trains_each_variant_with_its_settings(monkeypatch, bars):
    from cnnedu.models.alexnet import AlexNet
    from cnnedu.recipes import get_recipe

    calls = []
    spy_fit(monkeypatch, calls)
    recipe = dataclasses.replace(get_recipe("alexnet"), build=partial(AlexNet, width=0.25),
                                 batch_size=16)
    train, test = FashionMNIST("train", limit=64), FashionMNIST("test", limit=32)
    out = experiments.ablate_recipe(recipe, {"base": {}, "no smoothing": {"label_smoothing": 0.0},
                                             "adam": {"optimizer": "adam", "augment": False}},
                                    train, test, epochs=2, seed=1, device="cpu")
    assert list(out) == ["base", "no smoothing", "adam"]
    assert [c["label_smoothing"] for c in calls] == [0.1, 0.0, 0.1]
    assert [c["optimizer"] for c in calls] == ["adamw", "adamw", "adam"]
    assert [c["train"].augment for c in calls] == [True, True, False]
    assert all(c["epochs"] == 2 and c["progress"] is False and c["max_batches"] is None
               and c["train"].batch_size == 16 and c["test"].dataset is test for c in calls)
    bar, = bars
    assert bar.kwargs == {"total": 3, "desc": "variants", "unit": "run", "disable": False}
    assert bar.postfix == ["base", "no smoothing", "adam"] and bar.updates == 3 and bar.closed
    with pytest.raises(ValueError, match=r"variant 'bad' changes unknown settings \['colour', "
                                         r"'size'\]"):
        experiments.ablate_recipe(recipe, {"bad": {"size": 1, "colour": 2}}, train, test, 1,
                                  progress=False)
    assert bars[1].kwargs["disable"] is True


def test_the_recipes_test_loader_reads_1000_images_a_batch_in_order():
    from cnnedu.recipes import get_recipe

    test = FashionMNIST("test", limit=30)
    for lesson in ("alexnet", "resnet"):
        recipe = get_recipe(lesson)
        loader = recipe.test_loader(test, "cpu")
        assert (loader.batch_size, loader.shuffle, loader.augment) == (1000, False, False)
        assert loader.channels_last == recipe.channels_last
        assert recipe.test_loader(test, "cpu", batch_size=7).batch_size == 7
    with pytest.raises(ValueError, match=r"lesson must be one of \['alexnet', 'resnet'\], "
                                         r"got 'vgg'"):
        get_recipe("vgg")
