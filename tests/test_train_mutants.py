"""cnnedu.train, the parts a planted bug (mutation run, tests/MUTANTS.md) slipped past: what the
live figure shows, where a checkpoint's temporary file goes, and what the loop logs.

Each truth is independent of the code under test: axis limits and running means computed by
hand here, the PNG size from inches x dpi, the file system's rule that a rename is atomic only
inside one folder.
"""

from __future__ import annotations

import io
import os
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
