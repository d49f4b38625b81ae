"""The loss / accuracy figure of a training run, redrawn in place in a notebook."""

from __future__ import annotations

import io

from cnnedu.curves import smoothed
from cnnedu.train.history import History


class LivePlot:
    """A loss / accuracy figure that redraws in place in a notebook (one output, updated).

    Outside IPython it does nothing, so scripts and tests can pass ``live_plot=True`` safely.
    """

    def __init__(self, epochs: int | None = None, eval_name: str = "test") -> None:
        self.handle, self.epochs, self.eval_name = None, epochs, eval_name
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        self.handle = display(display_id=True)

    def update(self, history: History) -> None:
        if self.handle is None:
            return
        from IPython.display import Image

        self.handle.update(Image(data=plot_history_png(history, self.epochs, self.eval_name)))


def plot_history_png(history: History, epochs: int | None = None,
                     eval_name: str = "test") -> bytes:
    """Render the loss and accuracy curves of ``history`` to PNG bytes (Agg, no pyplot state).

    The loss panel also draws every step's training loss (smoothed) against fractional epochs,
    so after one epoch there is already a curve, not a single dot; ``epochs`` (the planned
    total) fixes the x-axis, so it does not rescale around one point. ``eval_name`` labels the
    evaluated split ("test", or "validation" when the held-out images are a validation split).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3))
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    if history.step_loss and history.epoch:
        per_epoch = len(history.step_loss) / len(history.epoch)
        window = max(1, int(per_epoch // 10))
        smooth = smoothed(history.step_loss, window)
        ax_loss.plot([(i + 1) / per_epoch for i in range(len(smooth))], smooth, color="C0",
                     alpha=0.5, linewidth=1, label="train (per step, smoothed)")
    ax_loss.plot(history.epoch, history.train_loss, "o-", color="C0", label="train (epoch mean)")
    ax_loss.plot(history.epoch, history.test_loss, "s-", color="C1", label=eval_name)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.plot(history.epoch, history.train_acc, "o-", label="train")
    ax_acc.plot(history.epoch, history.test_acc, "s-", label=eval_name)
    accuracies = [a for a in history.train_acc + history.test_acc if a == a]
    low = min(accuracies, default=0.0)
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy",
               ylim=(max(0.0, min(low - 0.05, 0.8)), 1.0))
    last = max(epochs or 0, len(history.epoch), 1)
    for ax in (ax_loss, ax_acc):
        ax.set_xlim(0, last + 0.2)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
