"""cnnedu.train: fit learns, evaluate measures, checkpoints are atomic and weights-only."""

import os

import pytest
import torch
from torch import nn

from cnnedu.config import seed_everything
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.train import History, evaluate, fit, load_checkpoint, plot_history_png, save_checkpoint


def tiny_model():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),
                         nn.Flatten(), nn.Linear(8 * 7 * 7, 10))


@pytest.fixture(scope="module")
def loaders():
    train = BatchLoader(FashionMNIST("train", limit=2000), 100, shuffle=True)
    test = BatchLoader(FashionMNIST("test", limit=500), 250)
    return train, test


def test_fit_learns_and_returns_history(loaders):
    seed_everything(0)
    model = tiny_model()
    _, chance_acc = evaluate(model, loaders[1], "cpu")
    history = fit(model, *loaders, epochs=2, lr=0.05, device="cpu", progress=False)
    assert isinstance(history, History)
    assert history.epoch == [1, 2] and len(history.step_loss) == 2 * len(loaders[0])
    assert history.final_test_acc > 0.6 > chance_acc
    assert history.train_loss[1] < history.train_loss[0]
    assert not model.training


def test_fit_is_repeatable_with_a_seed(loaders):
    results = []
    for _ in range(2):
        seed_everything(3)
        train = BatchLoader(loaders[0].dataset, 100, shuffle=True, seed=3)
        results.append(fit(tiny_model(), train, None, epochs=1, device="cpu", progress=False,
                           max_batches=5).step_loss)
    assert results[0] == results[1]


def test_max_batches_and_options(loaders):
    history = fit(tiny_model(), loaders[0], loaders[1], epochs=1, max_batches=3,
                  optimizer="adamw", lr=1e-3, scheduler="cosine", label_smoothing=0.1,
                  channels_last=True, device="cpu", progress=False, live_plot=True)
    assert len(history.step_loss) == 3
    with pytest.raises(ValueError, match="optimizer"):
        fit(tiny_model(), loaders[0], epochs=1, optimizer="lbfgs", progress=False)
    with pytest.raises(ValueError, match="scheduler"):
        fit(tiny_model(), loaders[0], epochs=1, scheduler="step", progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(tiny_model(), loaders[0], epochs=0)


def test_divergence_is_reported_not_hidden(loaders):
    history = fit(tiny_model(), loaders[0], loaders[1], epochs=1, lr=1e6, scheduler=None,
                  weight_decay=0, device="cpu", progress=False)
    assert history.step_loss[-1] != history.step_loss[-1] or history.final_test_acc < 0.3


def test_history_plot_is_a_png(loaders):
    history = History(epoch=[1, 2], train_loss=[1, 0.5], train_acc=[0.5, 0.7],
                      test_loss=[1.1, 0.6], test_acc=[0.5, 0.7])
    assert plot_history_png(history)[:4] == b"\x89PNG"


def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path):
    model, other = tiny_model(), tiny_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 1, 28, 28)).sum().backward()
    optimizer.step()
    path = save_checkpoint(tmp_path / "ckpt" / "model.pt", model, optimizer, epoch=3,
                           note="after epoch 3")
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp file left
    extra = load_checkpoint(path, other, torch.optim.SGD(other.parameters(), lr=0.1))
    assert extra == {"epoch": 3, "note": "after epoch 3"}
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    model = tiny_model()
    path = save_checkpoint(tmp_path / "model.pt", model, epoch=1)
    before = path.read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, epoch=2)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.pt"]


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt", tiny_model())
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="bad.pt"):
        load_checkpoint(bad, tiny_model())


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 8, 13])
def test_onecycle_survives_very_short_runs(loaders, steps):
    history = fit(tiny_model(), loaders[0], None, epochs=1, max_batches=steps, device="cpu",
                  progress=False)
    assert len(history.step_loss) == steps


def test_max_seconds_stops_training_early_and_still_evaluates(loaders):
    history = fit(tiny_model(), loaders[0], loaders[1], epochs=50, max_seconds=0.0,
                  device="cpu", progress=False)
    assert history.epoch == [1] and history.step_loss == []
    assert 0.0 <= history.final_test_acc <= 1.0
