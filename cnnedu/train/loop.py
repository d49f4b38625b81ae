"""The training loop: ``fit`` over epochs, ``train_one_epoch`` over batches, ``evaluate``.

Kept deliberately plain (``fit`` loops over epochs, ``train_one_epoch`` over batches, as d2l's
trainer does), with the few things that make training fast on a 2-core CPU: batches come from
memory (:class:`cnnedu.data.BatchLoader`), optional channels_last, ``set_to_none`` gradients and
one-cycle learning rates. The torchrun worker steps with the same ``train_one_epoch``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from cnnedu.device import model_device, resolve_device
from cnnedu.train.history import History
from cnnedu.train.liveplot import LivePlot
from cnnedu.train.optim import make_optimizer, make_scheduler
from cnnedu.train.precision import autocast, check_precision, resolve_precision

DEFAULT_LR = 0.05   # fit's learning rate when it builds the optimizer from its name


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, device: torch.device | str | None = None,
             max_batches: int | None = None, precision: str = "fp32",
             flip: bool = False) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` over ``loader`` (in eval mode).

    ``precision`` (``"fp32"`` or ``"bf16"``, see :mod:`cnnedu.train.precision`) is the one the
    model was trained in: a bf16-trained model is evaluated under the same autocast.

    ``flip=True`` is test-time flip averaging: each image and its left-right mirror go through
    the model, and their predicted probabilities are averaged (the loss is the cross-entropy of
    that average). A model trained with random flips has learned both views, so the two
    predictions mostly agree and the average matters where it is unsure; it costs a second
    forward pass.
    """
    device = torch.device(device) if device is not None else model_device(model)
    cast = autocast(precision, device)   # checks precision and device before any work
    was_training = model.training
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    for i, (x, y) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        x = x.to(device, non_blocking=True)  # pragma: no mutate (CPU: no-op)
        y = y.to(device, non_blocking=True)  # pragma: no mutate (CPU: no-op)
        with cast:
            logits = model(x).float()
            if flip:
                mirrored = model(x.flip(-1)).float()
        if flip:
            probs = (logits.softmax(1) + mirrored.softmax(1)) / 2
            logits = probs.clamp_min(1e-12).log()   # log-probabilities: cross_entropy's input
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
        channels_last: bool = False, precision: str = "fp32", max_batches: int | None = None,
        max_seconds: float | None = None, progress: bool = True, live_plot: bool = False,
        eval_name: str = "test", on_epoch_end: Callable[[History], None] | None = None,
        eval_flip: bool = False) -> History:
    """Train ``model`` for ``epochs`` and return its :class:`History`.

    ``max_batches`` caps the steps per epoch (quick runs); ``max_seconds`` stops training once
    that much time has passed (the epoch in progress ends early, is evaluated, and no further
    epoch starts), so different models can get the same time budget; ``live_plot=True``
    redraws one loss / accuracy figure in place in a notebook after each epoch, its held-out
    curve labelled ``eval_name`` (``"validation"`` when ``test_loader`` holds a validation
    split: ``History.test_*`` always means "the held-out loader's"). ``device``
    defaults to the automatic choice (``CNNEDU_DEVICE`` or cuda > mps > cpu). The model is
    left in eval mode.

    Learning rate, one rule: the optimizer's learning rate is the schedule's peak (one-cycle
    rises to it, cosine starts from it, ``None`` keeps it). With an optimizer *name*, ``lr``
    (default 0.05) is that rate; an optimizer *object* brings its own, and giving ``lr`` as well
    is an error rather than a silent override of one by the other.

    ``precision="bf16"`` runs forward and loss (in training and in evaluation) under
    ``torch.autocast`` with bfloat16; weights, gradients and optimiser stay fp32
    (:mod:`cnnedu.train.precision`). ``"fp32"`` trains exactly as without the argument.
    ``"auto"`` is bf16 where the device computes it natively, else fp32; ``History.precision``
    says which ran.

    ``eval_flip=True`` evaluates the held-out loader with test-time flip averaging
    (:func:`evaluate`'s ``flip``).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    check_precision(precision)
    device = resolve_device(device)
    precision = resolve_precision(precision, device)   # "auto": bf16 where native, else fp32
    autocast(precision, device)   # a device autocast cannot serve fails here, before training
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
    history = History(precision=precision)
    plot = LivePlot(epochs, eval_name) if live_plot else None
    start = time.perf_counter()
    deadline = None if max_seconds is None else start + max_seconds
    for epoch in range(1, epochs + 1):
        with tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", disable=not progress,
                  leave=True, unit="batch") as bar:
            result = train_one_epoch(model, train_loader, optimizer, criterion, device,
                                     scheduler=sched, max_batches=steps, deadline=deadline,
                                     bar=bar, precision=precision)
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
            test_loss, test_acc = evaluate(model, test_loader, device, precision=precision,
                                           flip=eval_flip)
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
                    after_step: Callable[[int, float], None] | None = None,
                    precision: str = "fp32") -> EpochResult:
    """One pass of SGD-style steps over ``loader`` (at most ``max_batches``), in train mode.

    ``deadline`` is a ``time.perf_counter()`` value: no step starts after it. A NaN loss stops
    the epoch at once (the step's loss is kept, so the divergence is visible in the history).
    ``before_step(i)`` and ``after_step(i, loss)`` run around step ``i`` (0-based in this
    pass): the torchrun worker times, logs and checkpoints there, with this same loop.
    ``precision`` (``"fp32"``/``"bf16"``) sets the autocast around forward and loss.
    """
    cast = autocast(precision, device)
    model.train()
    result = EpochResult(float("nan"), float("nan"), [])
    loss_sum, correct, count = 0.0, 0, 0
    for i, (x, y) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        if deadline is not None and time.perf_counter() > deadline:
            result.out_of_time = True
            break
        x = x.to(device, non_blocking=True)  # pragma: no mutate (CPU: no-op)
        y = y.to(device, non_blocking=True)  # pragma: no mutate (CPU: no-op)
        if before_step is not None:
            before_step(i)
        with cast:
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
