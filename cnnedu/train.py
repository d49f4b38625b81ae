"""Train and evaluate a classifier: ``fit`` with progress bars, a live plot and a returned history.

Kept deliberately plain (``fit`` loops over epochs, ``train_one_epoch`` over batches, as d2l's
trainer does), with the few things that make training fast on a 2-core CPU: batches come from
memory (:class:`cnnedu.data.BatchLoader`), optional channels_last, ``set_to_none`` gradients and
one-cycle learning rates.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from cnnedu.curves import smoothed
from cnnedu.device import model_device, resolve_device

DEFAULT_LR = 0.05   # fit's learning rate when it builds the optimizer from its name


@dataclass
class History:
    """What happened during ``fit``: one entry per epoch, plus the loss of every step."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)

    def recent_loss(self, steps: int) -> float:
        """Mean training loss of the last ``steps`` steps (NaN before the first step).

        A smoother "final training loss" than the last step's alone, whose batch is luck.
        """
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        tail = self.step_loss[-steps:]
        return sum(tail) / len(tail) if tail else float("nan")

    @property
    def final_test_acc(self) -> float:
        return self.test_acc[-1] if self.test_acc else float("nan")


def make_optimizer(name: str, params: Iterable[nn.Parameter], lr: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    """``sgd`` (Nesterov momentum 0.9), ``adamw`` or ``adam``; anything else is a ValueError."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True,
                               weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adamw' or 'adam', got {name!r}")


def make_scheduler(name: str | None, optimizer: torch.optim.Optimizer,
                   total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``onecycle`` (warm up then anneal: fast convergence in few epochs), ``cosine`` or None.

    The optimizer's own learning rate (per parameter group) is the schedule's peak: one-cycle
    rises to it, cosine starts from it. So one rule holds whoever built the optimizer.

    One-cycle needs at least 4 steps (two per phase; PyTorch divides by zero otherwise): shorter
    runs, such as smoke runs of a few batches, train at a constant ``lr``.
    """
    if name not in (None, "constant", "onecycle", "cosine"):
        raise ValueError(f"scheduler must be 'onecycle', 'cosine', 'constant' or None, got {name!r}")
    if name is None or name == "constant":
        return None
    if name == "onecycle":
        if total_steps < 4:
            return None
        peaks = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total_steps,
                                                   pct_start=max(0.25, 2.0 / total_steps))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, device: torch.device | str | None = None,
             max_batches: int | None = None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` over ``loader`` (in eval mode)."""
    device = torch.device(device) if device is not None else model_device(model)
    was_training = model.training
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    for i, (x, y) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        count += len(y)
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate() got an empty loader")
    return loss_sum / count, correct / count


def fit(model: nn.Module, train_loader: Iterable, test_loader: Iterable | None = None,
        epochs: int = 1, *, optimizer: str | torch.optim.Optimizer = "sgd", lr: float | None = None,
        weight_decay: float = 5e-4, scheduler: str | None = "onecycle",
        label_smoothing: float = 0.0, device: torch.device | str | None = None,
        channels_last: bool = False, max_batches: int | None = None,
        max_seconds: float | None = None, progress: bool = True, live_plot: bool = False,
        on_epoch_end: Callable[[History], None] | None = None) -> History:
    """Train ``model`` for ``epochs`` and return its :class:`History`.

    ``max_batches`` caps the steps per epoch (smoke runs); ``max_seconds`` stops training once
    that much time has passed (the epoch in progress ends early, is evaluated, and no further
    epoch starts), so different models can get the same time budget; ``live_plot=True``
    redraws one loss / accuracy figure in place in a notebook after each epoch. ``device``
    defaults to the automatic choice (``CNNEDU_DEVICE`` or cuda > mps > cpu). The model is
    left in eval mode.

    Learning rate, one rule: the optimizer's learning rate is the schedule's peak (one-cycle
    rises to it, cosine starts from it, ``None`` keeps it). With an optimizer *name*, ``lr``
    (default 0.05) is that rate; an optimizer *object* brings its own, and giving ``lr`` as well
    is an error rather than a silent override of one by the other.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    device = resolve_device(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    steps = len(train_loader) if max_batches is None else min(max_batches, len(train_loader))
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, model.parameters(),
                                   DEFAULT_LR if lr is None else lr, weight_decay)
    elif lr is not None:
        rates = sorted({group["lr"] for group in optimizer.param_groups})
        raise ValueError(f"lr={lr} was given with an optimizer object, whose own learning rate "
                         f"(lr={', '.join(map(str, rates))}) is the schedule's peak: set it in "
                         f"the optimizer, or pass the optimizer's name with lr")
    sched = make_scheduler(scheduler, optimizer, steps * epochs)
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    history = History()
    plot = LivePlot(epochs) if live_plot else None
    start = time.perf_counter()
    deadline = None if max_seconds is None else start + max_seconds
    for epoch in range(1, epochs + 1):
        with tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", disable=not progress,
                  leave=True, unit="batch") as bar:
            result = train_one_epoch(model, train_loader, optimizer, criterion, device,
                                     scheduler=sched, max_batches=steps, deadline=deadline,
                                     bar=bar)
        history.step_loss.extend(result.step_loss)
        history.epoch.append(epoch)
        if result.diverged:        # NaN: the run diverged, stop and report honestly
            for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
                getattr(history, name).append(float("nan"))
            history.seconds.append(time.perf_counter() - start)
            break
        history.train_loss.append(result.loss)
        history.train_acc.append(result.accuracy)
        if test_loader is not None:
            test_loss, test_acc = evaluate(model, test_loader, device)
        else:
            test_loss, test_acc = float("nan"), float("nan")
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        history.seconds.append(time.perf_counter() - start)
        if plot is not None:
            plot.update(history)
        if on_epoch_end is not None:
            on_epoch_end(history)
        if result.out_of_time or (deadline is not None and time.perf_counter() > deadline):
            break
    model.eval()
    return history


@dataclass
class EpochResult:
    """What one pass over the training data did (see :func:`train_one_epoch`)."""

    loss: float                # mean training loss per image (NaN when no step ran)
    accuracy: float            # training accuracy of the batches as they were trained on
    step_loss: list[float]     # the loss of every step, in order
    diverged: bool = False     # a step's loss was NaN; the epoch stopped right there
    out_of_time: bool = False  # the deadline passed; the epoch stopped early


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                    criterion: nn.Module, device: torch.device, *,
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                    max_batches: int | None = None, deadline: float | None = None,
                    bar: tqdm | None = None,
                    before_step: Callable[[int], None] | None = None,
                    after_step: Callable[[int, float], None] | None = None) -> EpochResult:
    """One pass of SGD-style steps over ``loader`` (at most ``max_batches``), in train mode.

    ``deadline`` is a ``time.perf_counter()`` value: no step starts after it. A NaN loss stops
    the epoch at once (the step's loss is kept, so the divergence is visible in the history).
    ``before_step(i)`` and ``after_step(i, loss)`` run around step ``i`` (0-based in this
    pass): the torchrun worker times, logs and checkpoints there, with this same loop.
    """
    model.train()
    result = EpochResult(float("nan"), float("nan"), [])
    loss_sum, correct, count = 0.0, 0, 0
    for i, (x, y) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        if deadline is not None and time.perf_counter() > deadline:
            result.out_of_time = True
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if before_step is not None:
            before_step(i)
        logits = model(x)
        loss = criterion(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        batch_loss = loss.item()
        result.step_loss.append(batch_loss)
        if after_step is not None:
            after_step(i, batch_loss)
        if math.isnan(batch_loss):
            result.diverged = True
            return result
        loss_sum += batch_loss * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        count += len(y)
        if bar is not None:
            bar.update(1)
            if i % 10 == 0:
                bar.set_postfix(loss=f"{batch_loss:.3f}")
    if count:
        result.loss, result.accuracy = loss_sum / count, correct / count
    return result


class LivePlot:
    """A loss / accuracy figure that redraws in place in a notebook (one output, updated).

    Outside IPython it does nothing, so scripts and tests can pass ``live_plot=True`` safely.
    """

    def __init__(self, epochs: int | None = None) -> None:
        self.handle, self.epochs = None, epochs
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

        self.handle.update(Image(data=plot_history_png(history, self.epochs)))


def plot_history_png(history: History, epochs: int | None = None) -> bytes:
    """Render the loss and accuracy curves of ``history`` to PNG bytes (Agg, no pyplot state).

    The loss panel also draws every step's training loss (smoothed) against fractional epochs,
    so after one epoch there is already a curve, not a single dot; ``epochs`` (the planned
    total) fixes the x-axis, so it does not rescale around one point.
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
    ax_loss.plot(history.epoch, history.test_loss, "s-", color="C1", label="test")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.plot(history.epoch, history.train_acc, "o-", label="train")
    ax_acc.plot(history.epoch, history.test_acc, "s-", label="test")
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


def save_checkpoint(path: str | os.PathLike, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, **extra: object) -> Path:
    """Write model (and optimizer) state atomically: a temp file in the same folder, then rename.

    A crash mid-write therefore leaves the previous checkpoint intact, never a half file.
    ``extra`` values must be plain (numbers, strings, lists, dicts) so ``weights_only`` loading works.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "extra": extra}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None,
                    map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no pickled code).

    Returns the ``extra`` values. A missing or unreadable file raises ``FileNotFoundError`` /
    ``RuntimeError`` naming the path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise RuntimeError(f"{path} is not a readable cnnedu checkpoint: {err}") from err
    model.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return state.get("extra", {})
