"""cnnedu.train, the parts a planted bug (mutation run, tests/MUTANTS.md) slipped past: what the
live figure shows, where a checkpoint's temporary file goes, and what the loop logs.

Each truth is independent of the code under test: axis limits and running means computed by
hand here, the PNG size from inches x dpi, the file system's rule that a rename is atomic only
inside one folder.
"""

from __future__ import annotations

import io
import math
import os
import re
import sys
import types

import matplotlib.figure
import pytest
import torch
from PIL import Image
from torch import nn

from cnnedu.train import History, plot_history_png, save_checkpoint
from cnnedu.train import liveplot as liveplot_module


@pytest.fixture
def drawn(monkeypatch):
    """The figures plot_history_png saves, caught at savefig (the PNG alone hides the axes)."""
    figures = []
    original = matplotlib.figure.Figure.savefig

    def catch(self, *args, **kwargs):
        figures.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", catch)
    return figures


def running_mean(values, window):
    """Mean of the last ``window`` values (fewer at the start), written out by hand."""
    return [sum(values[max(0, i + 1 - window):i + 1]) / min(i + 1, window)
            for i in range(len(values))]


BASE = dict(epoch=[1, 2], train_loss=[1.0, 0.5], train_acc=[0.5, 0.7], test_loss=[1.1, 0.6],
            test_acc=[0.55, 0.75])


def test_the_figure_names_its_panels_axes_and_curves(drawn):
    plot_history_png(History(**BASE))
    loss, acc = drawn[0].axes
    assert (loss.get_title(), loss.get_xlabel(), loss.get_ylabel()) == ("loss", "epoch", "loss")
    assert (acc.get_title(), acc.get_xlabel(), acc.get_ylabel()) == \
        ("accuracy", "epoch", "accuracy")
    assert [t.get_text() for t in loss.get_legend().get_texts()] == \
        ["train (epoch mean)", "test"]
    assert [t.get_text() for t in acc.get_legend().get_texts()] == ["train", "test"]
    train_line, test_line = loss.get_lines()
    assert list(train_line.get_ydata()) == [1.0, 0.5] and list(test_line.get_ydata()) == [1.1, 0.6]
    assert (train_line.get_marker(), test_line.get_marker()) == ("o", "s")
    assert train_line.get_color() != test_line.get_color()
    assert [list(line.get_ydata()) for line in acc.get_lines()] == [[0.5, 0.7], [0.55, 0.75]]
    assert all(ax.xaxis.get_gridlines()[0].get_visible() for ax in (loss, acc))


def test_the_step_curve_is_a_thin_running_mean_against_fractional_epochs(drawn):
    steps = [float((7 * i) % 11) for i in range(80)]            # 40 steps per epoch
    plot_history_png(History(**BASE, step_loss=steps))
    loss = drawn[0].axes[0]
    step_line, epoch_line, _ = loss.get_lines()
    assert step_line.get_label() == "train (per step, smoothed)"
    assert list(step_line.get_xdata()) == pytest.approx([(i + 1) / 40 for i in range(80)])
    # 40 steps per epoch: a window of a tenth of an epoch, 4 steps
    assert list(step_line.get_ydata()) == pytest.approx(running_mean(steps, 4))
    assert step_line.get_color() == epoch_line.get_color()   # the same run, in one colour
    assert step_line.get_alpha() < 1                         # light, behind the epoch means
    assert step_line.get_linewidth() < epoch_line.get_linewidth()


def test_few_steps_per_epoch_are_not_smoothed(drawn):
    steps = [3.0, 1.0, 2.0, 0.5, 1.5, 0.2]                    # 3 steps per epoch: window 1
    plot_history_png(History(**BASE, step_loss=steps))
    assert list(drawn[0].axes[0].get_lines()[0].get_ydata()) == pytest.approx(steps)


def test_steps_without_a_finished_epoch_draw_no_step_curve(drawn):
    plot_history_png(History(step_loss=[2.0, 1.5]))
    assert [line.get_label() for line in drawn[0].axes[0].get_lines()] == \
        ["train (epoch mean)", "test"]


@pytest.mark.parametrize(("accuracies", "bottom"), [
    ([0.5, 0.7], 0.45),        # 0.05 below the lowest accuracy
    ([0.95, 0.97], 0.8),       # but never above 0.8, so a good run still shows its rise
    ([0.02, 0.3], 0.0),        # and never below 0
    ([float("nan"), 0.6], 0.55),   # a diverged epoch's NaN is left out
])
def test_the_accuracy_axis_starts_just_below_the_lowest_accuracy(drawn, accuracies, bottom):
    history = History(epoch=[1, 2], train_loss=[1.0, 0.5], test_loss=[1.0, 0.5],
                      train_acc=accuracies, test_acc=[0.99, 0.99])
    plot_history_png(history)
    assert drawn[0].axes[1].get_ylim() == pytest.approx((bottom, 1.0))


def test_the_x_axis_spans_the_planned_epochs(drawn):
    plot_history_png(History(**BASE), epochs=6)          # 2 of 6 epochs done: room for 6
    plot_history_png(History(**BASE))                    # no plan: the epochs so far
    plot_history_png(History(**BASE), epochs=1)          # more epochs ran than planned
    plot_history_png(History())                          # nothing yet: one epoch's room
    limits = [[ax.get_xlim() for ax in figure.axes] for figure in drawn]
    for figure, last in zip(limits, [6, 2, 2, 1], strict=True):
        assert figure == [pytest.approx((0, last + 0.2))] * 2


def test_the_png_is_eight_by_three_inches_at_80_dpi():
    png = plot_history_png(History(**BASE))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).size == (8 * 80, 3 * 80)


class FakeHandle:
    def __init__(self):
        self.shown = []

    def update(self, obj):
        self.shown.append(obj)


def test_live_plot_redraws_one_output_in_ipython(monkeypatch):
    handle, asked = FakeHandle(), []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: object()                    # "inside a notebook"
    display = types.ModuleType("IPython.display")

    def fake_display(*args, **kwargs):
        asked.append(kwargs)
        return handle

    display.display = fake_display
    display.Image = lambda data: ("image", data)
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    live = liveplot_module.LivePlot(epochs=4)
    assert asked == [{"display_id": True}]                    # one output that can be updated
    live.update(History(**BASE))
    live.update(History(**BASE))
    assert len(handle.shown) == 2 and all(kind == "image" for kind, _ in handle.shown)
    png = handle.shown[0][1]
    assert Image.open(io.BytesIO(png)).size == (640, 240)
    assert png == plot_history_png(History(**BASE), 4) != plot_history_png(History(**BASE))


def test_live_plot_outside_ipython_does_nothing(monkeypatch):
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: None                        # a plain script
    display = types.ModuleType("IPython.display")
    display.display = lambda *a, **k: pytest.fail("display called outside IPython")
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    live = liveplot_module.LivePlot(epochs=3)
    assert live.handle is None and live.epochs == 3
    live.update(History(**BASE))                              # no error, nothing shown


def test_live_plot_without_ipython_installed_does_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)         # import IPython -> ImportError
    live = liveplot_module.LivePlot()
    assert live.handle is None
    live.update(History(**BASE))


def test_the_checkpoint_is_renamed_from_a_hidden_file_in_its_own_folder(tmp_path, monkeypatch):
    """os.replace is atomic only within one file system, so the temporary file must sit in the
    target's folder (a temp file in /tmp fails to rename to another disk, or copies, not
    atomically); it is hidden and ends in .tmp, so no ``*.pt`` glob sees a half-written file."""
    renames = []
    real_replace = os.replace

    def spy(src, dst):
        renames.append((os.fspath(src), os.fspath(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)            # TMPDIR is read again
    target = tmp_path / "runs" / "model.pt"
    save_checkpoint(target, nn.Linear(2, 2), step=1)
    (src, dst), = renames
    src = os.path.abspath(src)
    assert os.path.dirname(src) == str(target.parent) and dst == os.fspath(target)
    name = os.path.basename(src)
    assert name.startswith(".model.pt.") and name.endswith(".tmp")
    assert os.listdir(tmp_path / "elsewhere") == [] and os.listdir(target.parent) == ["model.pt"]
    assert torch.load(target, weights_only=True)["extra"] == {"step": 1}


def test_both_panels_plot_against_the_epoch_numbers(drawn):
    plot_history_png(History(epoch=[2, 3], train_loss=[1.0, 0.5], train_acc=[0.5, 0.7],
                             test_loss=[1.1, 0.6], test_acc=[0.55, 0.75]))
    for ax in drawn[0].axes:
        assert [list(line.get_xdata()) for line in ax.get_lines()] == [[2, 3], [2, 3]]


def test_extra_tensors_land_where_map_location_says(tmp_path):
    """The worker keeps its RNG state in ``extra``; a checkpoint must load onto the asked
    device (``meta`` here stands for "another device than the one it was saved from")."""
    from cnnedu.train import load_checkpoint

    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2), rng=torch.get_rng_state())
    extra = load_checkpoint(path, nn.Linear(2, 2, device="meta"), map_location="meta")
    assert extra["rng"].device.type == "meta"
    assert load_checkpoint(path, nn.Linear(2, 2))["rng"].device.type == "cpu"


# --- the loop: what a learner watches, and the hooks ------------------------------------------

from cnnedu.train import loop as loop_module  # noqa: E402  (kept beside its tests)


class Bar:
    """Stands in for tqdm's context manager: keeps what it was told."""

    made: list = []

    def __init__(self, *args, **kwargs):
        self.kwargs, self.updates, self.postfix = kwargs, 0, []
        Bar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.updates += n

    def set_postfix(self, **kwargs):
        self.postfix.append(kwargs)


def batches(count, size=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, 1, 4, 4, generator=g), torch.randint(0, 3, (size,), generator=g))
            for _ in range(count)]


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


def test_fit_shows_one_bar_per_epoch_with_the_loss_every_tenth_step(monkeypatch):
    Bar.made = []
    monkeypatch.setattr(loop_module, "tqdm", Bar)
    history = loop_module.fit(small_model(), batches(12), epochs=2, scheduler=None,
                              device="cpu")
    first, second = Bar.made
    assert first.kwargs == {"total": 12, "desc": "epoch 1/2", "disable": False, "leave": True,
                            "unit": "batch"}
    assert second.kwargs["desc"] == "epoch 2/2" and first.updates == second.updates == 12
    shown = [float(p["loss"]) for p in first.postfix]          # steps 0 and 10
    assert list(first.postfix[0]) == ["loss"] and len(shown) == 2
    assert shown == pytest.approx([history.step_loss[0], history.step_loss[10]], abs=1e-3)
    assert all(len(p["loss"].split(".")[1]) == 3 for p in first.postfix)
    Bar.made = []
    loop_module.fit(small_model(), batches(3), epochs=1, max_batches=2, progress=False,
                    device="cpu")
    assert Bar.made[0].kwargs["total"] == 2 and Bar.made[0].kwargs["disable"] is True


def test_fit_calls_back_after_each_epoch_and_redraws_the_live_plot(monkeypatch):
    seen, drawn, made = [], [], []

    class FakePlot:
        def __init__(self, epochs, eval_name="test"):
            made.append((epochs, eval_name))

        def update(self, history):
            drawn.append(list(history.epoch))

    monkeypatch.setattr(loop_module, "LivePlot", FakePlot)
    loop_module.fit(small_model(), batches(2), batches(1), epochs=3, device="cpu",
                    progress=False, live_plot=True,
                    on_epoch_end=lambda h: seen.append((list(h.epoch), len(h.test_acc))))
    assert made == [(3, "test")] and drawn == [[1], [1, 2], [1, 2, 3]]
    assert seen == [([1], 1), ([1, 2], 2), ([1, 2, 3], 3)]
    loop_module.fit(small_model(), batches(2), epochs=1, device="cpu", progress=False)
    assert made == [(3, "test")]                              # no live plot unless asked
    loop_module.fit(small_model(), batches(2), batches(1), epochs=1, device="cpu",
                    progress=False, live_plot=True, eval_name="validation")
    assert made[-1] == (1, "validation")                      # the held-out curve's name


def test_fit_refuses_no_epochs_and_names_the_value():
    with pytest.raises(ValueError, match="epochs must be at least 1, got 0"):
        loop_module.fit(small_model(), batches(1), epochs=0)


def test_an_optimizer_object_with_lr_is_refused_naming_both_rates():
    model = small_model()
    sgd = torch.optim.SGD([{"params": [model[1].weight], "lr": 0.3},
                           {"params": [model[1].bias], "lr": 0.1}])
    with pytest.raises(ValueError) as info:
        loop_module.fit(model, batches(1), optimizer=sgd, lr=0.05, device="cpu")
    assert str(info.value) == ("lr=0.05 was given with an optimizer object, whose own learning "
                               "rate (lr=0.1, 0.3) is the schedule's peak: set it in the "
                               "optimizer, or pass the optimizer's name with lr")


def test_fit_trains_with_label_smoothing_and_weight_decay_as_asked():
    """Truth: a hand loop with torch.optim.SGD (Nesterov 0.9) and F.cross_entropy."""
    data = batches(3)
    history = loop_module.fit(small_model(), data, epochs=1, lr=0.1, weight_decay=0.01,
                              label_smoothing=0.2, scheduler=None, device="cpu",
                              progress=False)
    model = small_model()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                          weight_decay=0.01)
    losses = []
    for x, y in data:
        loss = nn.functional.cross_entropy(model(x), y, label_smoothing=0.2)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
        losses.append(loss.item())
    assert history.step_loss == pytest.approx(losses, rel=1e-6)
    assert history.train_loss == pytest.approx([sum(losses) / 3], rel=1e-6)


def test_fit_uses_the_default_rate_of_0_05_with_an_optimizer_name(monkeypatch):
    made = []
    real = loop_module.make_optimizer
    monkeypatch.setattr(loop_module, "make_optimizer",
                        lambda name, params, lr, wd: made.append((name, lr, wd))
                        or real(name, params, lr, wd))
    loop_module.fit(small_model(), batches(1), device="cpu", progress=False)
    assert made == [("sgd", 0.05, 5e-4)]


def test_train_one_epoch_calls_its_hooks_around_each_step_and_weights_by_batch_size():
    events = []
    model = small_model()
    data = [batches(1, size=2)[0], batches(1, size=6, seed=1)[0]]
    result = loop_module.train_one_epoch(
        model, data, torch.optim.SGD(model.parameters(), lr=0.0), nn.CrossEntropyLoss(), "cpu",
        before_step=lambda i: events.append(("before", i)),
        after_step=lambda i, loss: events.append(("after", i, loss)))
    assert [e[:2] for e in events] == [("before", 0), ("after", 0), ("before", 1), ("after", 1)]
    assert [e[2] for e in events if e[0] == "after"] == result.step_loss
    with torch.no_grad():                                    # lr 0: the same model throughout
        per_batch = [(nn.functional.cross_entropy(model(x), y).item(), len(y),
                      (model(x).argmax(1) == y).sum().item()) for x, y in data]
    assert result.loss == pytest.approx(sum(loss * n for loss, n, _ in per_batch) / 8, rel=1e-6)
    assert result.accuracy == sum(c for _, _, c in per_batch) / 8


def test_a_nan_step_stops_the_epoch_after_its_hook():
    events = []
    model = small_model()
    data = batches(3)
    data[1] = (torch.full_like(data[1][0], float("nan")), data[1][1])
    result = loop_module.train_one_epoch(
        model, data, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), "cpu",
        after_step=lambda i, loss: events.append(i))
    assert result.diverged and events == [0, 1] and len(result.step_loss) == 2
    assert math.isnan(result.loss) and math.isnan(result.accuracy)


def test_evaluate_counts_only_the_first_max_batches_and_names_an_empty_loader():
    from cnnedu.train import evaluate

    model = small_model()
    data = batches(4)
    x = torch.cat([b[0] for b in data[:2]])
    y = torch.cat([b[1] for b in data[:2]])
    with torch.no_grad():
        logits = model(x)
    loss, acc = evaluate(model, data, max_batches=2)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-6)
    assert acc == (logits.argmax(1) == y).double().mean().item()
    with pytest.raises(ValueError, match=r"evaluate\(\) got an empty loader"):
        evaluate(model, [])


def test_make_scheduler_rules_by_hand():
    from cnnedu.train import make_optimizer, make_scheduler

    def rates(name, total, lr=1.0):
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
        sched = make_scheduler(name, opt, total)
        out = []
        for _ in range(total):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            if sched is not None:
                sched.step()
        return out

    assert rates(None, 3) == rates("constant", 3) == [1.0] * 3
    assert rates("onecycle", 3) == [1.0] * 3                 # under 4 steps: constant
    def one_cycle(total, pct_start):
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
        ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total,
                                                  pct_start=pct_start)
        out = []
        for _ in range(total):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            ref.step()
        return out

    # PyTorch's one-cycle rising for max(25 %, 2 steps) of the run, peaking at the given lr
    assert rates("onecycle", 8) == pytest.approx(one_cycle(8, 0.25))
    assert rates("onecycle", 5) == pytest.approx(one_cycle(5, 2 / 5))   # 2 steps > 25 %
    assert one_cycle(5, 2 / 5) != pytest.approx(one_cycle(5, 0.25))
    assert max(rates("onecycle", 8, lr=0.3)) == pytest.approx(0.3)
    cosine = rates("cosine", 4)
    assert cosine == pytest.approx([1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5,
                                    (1 + math.cos(3 * math.pi / 4)) / 2])
    with pytest.raises(ValueError, match=r"scheduler must be 'onecycle', 'cosine', 'constant' "
                                         r"or None, got 'step'"):
        make_scheduler("step", torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), 4)
    with pytest.raises(ValueError, match=r"optimizer must be 'sgd', 'adamw' or 'adam', got "
                                         r"'lbfgs'"):
        make_optimizer("lbfgs", [nn.Parameter(torch.zeros(1))], 0.1, 0.0)


def test_checkpoints_in_new_nested_folders_and_without_optional_parts(tmp_path):
    from cnnedu.train import load_checkpoint

    model = nn.Linear(2, 2)
    path = save_checkpoint(tmp_path / "a" / "b" / "m.pt", model)    # folders made as needed
    assert path == tmp_path / "a" / "b" / "m.pt"
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = sgd.state_dict()
    assert load_checkpoint(path, nn.Linear(2, 2), sgd) == {}        # no optimizer state saved
    assert sgd.state_dict() == before
    plain = tmp_path / "plain.pt"
    torch.save({"model": model.state_dict()}, plain)                # no "extra" at all
    assert load_checkpoint(plain, nn.Linear(2, 2)) == {}
    with pytest.raises(FileNotFoundError, match=re.escape(f"no checkpoint at {tmp_path}")):
        load_checkpoint(tmp_path / "a", nn.Linear(2, 2))            # a folder is no checkpoint
    (tmp_path / "bad.pt").write_bytes(b"junk")
    with pytest.raises(RuntimeError, match=re.escape(f"{tmp_path / 'bad.pt'} is not a readable "
                                                     "cnnedu checkpoint: ")):
        load_checkpoint(tmp_path / "bad.pt", nn.Linear(2, 2))


def test_history_final_accuracy_and_recent_loss_by_hand():
    assert math.isnan(History().final_test_acc)
    assert History(test_acc=[0.5, 0.75]).final_test_acc == 0.75
    history = History(step_loss=[1.0, 2.0, 6.0])
    assert history.recent_loss(1) == 6.0 and history.recent_loss(3) == 3.0
    with pytest.raises(ValueError, match="steps must be at least 1, got 0"):
        history.recent_loss(0)
