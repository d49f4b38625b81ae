"""cnnedu.train: fit learns, evaluate measures, checkpoints are atomic and weights-only."""

import io
import math
import os

import pytest
import torch
from PIL import Image
from torch import nn

from cnnedu.config import seed_everything
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.train import (
    History,
    evaluate,
    fit,
    load_checkpoint,
    plot_history_png,
    save_checkpoint,
    train_one_epoch,
)


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
    assert len(history.seconds) == 2 and 0 < history.seconds[0] < history.seconds[1]
    assert (history.test_loss[-1], history.test_acc[-1]) == evaluate(model, loaders[1], "cpu")
    assert not model.training


def test_fit_is_repeatable_with_a_seed(loaders):
    results = []
    for seed in (3, 3, 4):
        seed_everything(seed)
        train = BatchLoader(loaders[0].dataset, 100, shuffle=True, seed=seed)
        results.append(fit(tiny_model(), train, None, epochs=1, device="cpu", progress=False,
                           max_batches=5).step_loss)
    assert results[0] == results[1]
    assert results[0] != results[2]          # the seed matters: the equality above is not luck


def test_max_batches_and_options(loaders):
    model = tiny_model()
    history = fit(model, loaders[0], loaders[1], epochs=1, max_batches=3,
                  optimizer="adamw", lr=1e-3, scheduler="cosine", label_smoothing=0.1,
                  channels_last=True, device="cpu", progress=False, live_plot=True)
    assert len(history.step_loss) == 3 and history.epoch == [1]
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="optimizer"):
        fit(tiny_model(), loaders[0], epochs=1, optimizer="lbfgs", progress=False)
    with pytest.raises(ValueError, match="scheduler"):
        fit(tiny_model(), loaders[0], epochs=1, scheduler="step", progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(tiny_model(), loaders[0], epochs=0)


@pytest.mark.parametrize(("scheduler", "final_lr"), [(None, 0.1), ("cosine", 0.0)])
def test_the_scheduler_sets_the_learning_rate(loaders, scheduler, final_lr):
    model = tiny_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, loaders[0], None, epochs=2, optimizer=optimizer, scheduler=scheduler,
        max_batches=4, device="cpu", progress=False)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(final_lr, abs=1e-12)


class RecordingSGD(torch.optim.SGD):
    """SGD that notes the learning rate each step uses."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.used = []

    def step(self, closure=None):
        self.used.append(self.param_groups[0]["lr"])
        return super().step(closure)


def pytorch_schedule(name, lr, steps):
    """The learning rates PyTorch's own scheduler gives an SGD(lr) over ``steps`` steps."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    if name == "onecycle":
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps,
                                                       pct_start=0.25)
    else:
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
def test_an_optimizer_object_keeps_its_learning_rate_as_the_schedules_peak(loaders, scheduler):
    """One rule: the optimizer's own lr is the peak (one-cycle) or the start (cosine) of the
    schedule, as if it had been passed as fit's lr with the optimizer's name."""
    model = tiny_model()
    optimizer = RecordingSGD(model.parameters(), lr=0.5)
    fit(model, loaders[0], None, epochs=1, optimizer=optimizer, scheduler=scheduler,
        max_batches=8, device="cpu", progress=False)
    assert optimizer.used == pytest.approx(pytorch_schedule(scheduler, 0.5, 8), rel=1e-9)
    assert max(optimizer.used) == pytest.approx(0.5)


def test_an_optimizer_object_and_lr_together_are_refused(loaders):
    model = tiny_model()
    with pytest.raises(ValueError, match=r"lr=0.1.*optimizer object.*lr=0.5"):
        fit(model, loaders[0], epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
            lr=0.1, progress=False)


def test_an_optimizer_name_uses_fits_lr_as_the_peak(loaders, monkeypatch):
    import cnnedu.train.loop

    built = []
    real = cnnedu.train.loop.make_optimizer
    monkeypatch.setattr(cnnedu.train.loop, "make_optimizer",
                        lambda *a, **kw: built.append(real(*a, **kw)) or built[-1])
    model = tiny_model()
    fit(model, loaders[0], None, epochs=1, optimizer="sgd", lr=0.5, max_batches=8,
        device="cpu", progress=False)
    (optimizer,) = built
    assert optimizer.param_groups[0]["initial_lr"] == pytest.approx(0.5 / 25)   # OneCycle's start
    assert optimizer.param_groups[0]["max_lr"] == pytest.approx(0.5)


def test_divergence_stops_training_and_is_recorded(loaders):
    x, y = next(iter(loaders[0]))
    batches = [(x, y), (x, y), (torch.full_like(x, float("nan")), y), (x, y), (x, y)]
    model = tiny_model()
    history = fit(model, batches, loaders[1], epochs=3, scheduler=None, device="cpu",
                  progress=False)
    # the third step's loss is NaN: training stops there, in the first of three epochs
    assert len(history.step_loss) == 3 and math.isnan(history.step_loss[-1])
    assert not any(math.isnan(v) for v in history.step_loss[:2])
    assert history.epoch == [1] and len(history.seconds) == 1
    assert all(math.isnan(v) for v in (history.train_loss[0], history.train_acc[0],
                                       history.test_loss[0], history.final_test_acc))
    assert not model.training


def test_history_plot_draws_the_history():
    history = History(epoch=[1, 2], train_loss=[1, 0.5], train_acc=[0.5, 0.7],
                      test_loss=[1.1, 0.6], test_acc=[0.5, 0.7])
    png = plot_history_png(history)
    assert Image.open(io.BytesIO(png)).size == (640, 240)        # 8 x 3 inches at 80 dpi
    other = History(epoch=[1, 2], train_loss=[1, 0.9], train_acc=[0.5, 0.55],
                    test_loss=[1.1, 1.0], test_acc=[0.5, 0.52])
    assert plot_history_png(other) != png                        # the curves are drawn
    assert plot_history_png(history, eval_name="validation") != png  # the legend names the split


def test_recent_loss_is_the_mean_of_the_last_steps():
    history = History(step_loss=[4.0, 3.0, 2.0, 1.0])
    assert history.recent_loss(2) == 1.5 and history.recent_loss(10) == 2.5
    assert math.isnan(History().recent_loss(5))
    with pytest.raises(ValueError, match="steps"):
        history.recent_loss(0)


def test_train_one_epoch_steps_and_stops_at_the_deadline(loaders):
    seed_everything(0)
    model = tiny_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    result = train_one_epoch(model, loaders[0], optimizer, nn.CrossEntropyLoss(), "cpu",
                             max_batches=3)
    assert len(result.step_loss) == 3 and not result.diverged and not result.out_of_time
    assert 0 <= result.accuracy <= 1 and result.loss > 0 and model.training
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    late = train_one_epoch(model, loaders[0], optimizer, nn.CrossEntropyLoss(), "cpu",
                           deadline=0.0)
    assert late.out_of_time and late.step_loss == [] and math.isnan(late.loss)


def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path):
    model, other = tiny_model(), tiny_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 1, 28, 28)).sum().backward()
    optimizer.step()
    path = save_checkpoint(tmp_path / "ckpt" / "model.pt", model, optimizer, epoch=3,
                           note="after epoch 3")
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp file left
    other_optimizer = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    extra = load_checkpoint(path, other, other_optimizer)
    assert extra == {"epoch": 3, "note": "after epoch 3"}
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    momentum = [s["momentum_buffer"] for s in optimizer.state_dict()["state"].values()]
    loaded = [s["momentum_buffer"] for s in other_optimizer.state_dict()["state"].values()]
    assert len(momentum) == 4
    assert all(torch.equal(a, b) for a, b in zip(momentum, loaded, strict=True))


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
    model = tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    history = fit(model, loaders[0], loaders[1], epochs=50, max_seconds=0.0,
                  device="cpu", progress=False)
    assert history.epoch == [1] and history.step_loss == []
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert history.final_test_acc == evaluate(model, loaders[1], "cpu")[1]


def test_evaluate_is_cross_entropy_over_the_whole_set_in_eval_mode():
    """Truth: F.cross_entropy (mean) and accuracy of the eval-mode model on all images at once,
    with unequal batches (64, 64, 64, 38), Dropout and BatchNorm whose batch statistics differ
    from its running ones (so a model left in train mode gives other numbers)."""
    from torch.nn import functional as F

    from cnnedu.data import normalize

    seed_everything(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(),
                          nn.Dropout(0.5), nn.Linear(32, 10))
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(64, 1, 28, 28) * 3 + 1)
    data = FashionMNIST("test", limit=230)
    model.train()
    loss, accuracy = evaluate(model, BatchLoader(data, 64), "cpu")
    assert model.training                       # the mode it had is given back
    model.eval()
    with torch.no_grad():
        logits = model(normalize(data.images).unsqueeze(1))
    assert loss == pytest.approx(F.cross_entropy(logits, data.labels).item(), rel=1e-5)
    assert accuracy == pytest.approx((logits.argmax(1) == data.labels).double().mean().item())
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, [], "cpu")


def test_train_one_epoch_reports_loss_and_accuracy_of_the_batches_it_trained_on():
    """With lr=0 nothing changes, so the epoch's numbers must be F.cross_entropy and the
    accuracy of the model over all its batches, computed directly (uneven last batch)."""
    from torch.nn import functional as F

    from cnnedu.train import train_one_epoch

    seed_everything(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 10))
    batches = [(torch.randn(n, 1, 4, 4), torch.randint(0, 10, (n,))) for n in (8, 8, 5)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    result = train_one_epoch(model, batches, optimizer, nn.CrossEntropyLoss(), "cpu")
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    with torch.no_grad():
        logits = model(x)
    assert result.loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert result.accuracy == pytest.approx((logits.argmax(1) == y).double().mean().item())
    assert len(result.step_loss) == 3 and not result.diverged and not result.out_of_time


@pytest.mark.parametrize(("name", "kind"), [("sgd", torch.optim.SGD), ("adamw", torch.optim.AdamW),
                                            ("adam", torch.optim.Adam)])
def test_make_optimizer_builds_the_named_pytorch_optimizer_with_lr_and_decay(name, kind):
    from cnnedu.train import make_optimizer

    optimizer = make_optimizer(name, nn.Linear(2, 2).parameters(), lr=0.5, weight_decay=0.01)
    group = optimizer.param_groups[0]
    assert type(optimizer) is kind and (group["lr"], group["weight_decay"]) == (0.5, 0.01)
    if name == "sgd":
        assert group["momentum"] == 0.9 and group["nesterov"]


def test_a_diverged_run_still_records_its_time(loaders):
    x, y = next(iter(loaders[0]))
    history = fit(tiny_model(), [(torch.full_like(x, float("nan")), y)], None, epochs=1,
                  scheduler=None, device="cpu", progress=False)
    assert len(history.seconds) == 1 and history.seconds[0] > 0


def test_history_plot_draws_the_step_losses_too():
    """The per-step curve is part of the figure: other step losses give another picture."""
    base = dict(epoch=[1, 2], train_loss=[1, 0.5], train_acc=[0.5, 0.7], test_loss=[1.1, 0.6],
                test_acc=[0.5, 0.7])
    falling = plot_history_png(History(**base, step_loss=[2.0 - 0.1 * i for i in range(20)]))
    rising = plot_history_png(History(**base, step_loss=[0.1 * i for i in range(20)]))
    assert Image.open(io.BytesIO(falling)).size == (640, 240) and falling != rising


class _LeftHalfReader(nn.Module):
    """Logits read from the left half of the image only, so its mirror image gives other ones."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 14, 10)

    def forward(self, x):
        return self.linear(x[..., :14].flatten(1))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_flip_averaging_is_the_mean_of_the_two_views_probabilities(precision):
    """Truth by hand: softmax of the image and of its mirror image (both forward passes in the
    precision asked for), averaged; the loss is the negative log of the true class's averaged
    probability, the prediction its argmax."""
    torch.manual_seed(0)
    model = _LeftHalfReader()
    x, y = torch.randn(37, 1, 28, 28), torch.randint(0, 10, (37,))
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
        views = model(x).float(), model(x.flip(-1)).float()
    probs = (views[0].softmax(1) + views[1].softmax(1)) / 2
    loss, accuracy = evaluate(model, [(x[:20], y[:20]), (x[20:], y[20:])], "cpu", flip=True,
                              precision=precision)
    assert loss == pytest.approx(-probs[torch.arange(37), y].log().mean().item(), rel=1e-5)
    assert accuracy == (probs.argmax(1) == y).sum().item() / 37
    plain = evaluate(model, [(x, y)], "cpu", precision=precision)
    assert plain != (loss, accuracy)          # the mirror image really was looked at


def test_flip_averaging_changes_nothing_for_a_mirror_symmetric_model():
    """A model that sees only mirror-invariant features (global average) gives the same numbers."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 10))
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    with_flip = evaluate(model, [(x, y)], "cpu", flip=True)
    assert with_flip == pytest.approx(evaluate(model, [(x, y)], "cpu"), rel=1e-6)


def test_fit_evaluates_the_held_out_loader_with_flip_averaging_when_asked(loaders):
    seed_everything(0)
    model = tiny_model()
    history = fit(model, loaders[0], loaders[1], epochs=1, max_batches=3, device="cpu",
                  progress=False, eval_flip=True)
    assert (history.test_loss[-1], history.test_acc[-1]) == evaluate(model, loaders[1], "cpu",
                                                                       flip=True)
    assert history.test_loss[-1] != evaluate(model, loaders[1], "cpu")[0]   # not one view
