"""Train and evaluate a classifier: ``fit`` with progress bars, a live plot and a returned history.

One job per module: :mod:`~cnnedu.train.loop` (``fit``, ``train_one_epoch``, ``evaluate``),
:mod:`~cnnedu.train.optim` (optimizers and schedules by name), :mod:`~cnnedu.train.history`,
:mod:`~cnnedu.train.liveplot` (the figure), :mod:`~cnnedu.train.checkpoint` and
:mod:`~cnnedu.train.precision` (``autocast`` by precision name). Lessons import everything
from ``cnnedu.train``.
"""

from cnnedu.train.checkpoint import load_checkpoint, save_checkpoint
from cnnedu.train.history import History
from cnnedu.train.liveplot import LivePlot, plot_history_png
from cnnedu.train.loop import DEFAULT_LR, EpochResult, evaluate, fit, train_one_epoch
from cnnedu.train.optim import make_optimizer, make_scheduler
from cnnedu.train.precision import autocast

__all__ = ["DEFAULT_LR", "EpochResult", "History", "LivePlot", "autocast", "evaluate", "fit",
           "load_checkpoint", "make_optimizer", "make_scheduler", "plot_history_png",
           "save_checkpoint", "train_one_epoch"]
