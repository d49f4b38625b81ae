"""Is an exponential moving average (EMA) of the weights worth keeping for the lesson ResNet?

    python benchmarks/ema.py [--epochs 2] [--train-limit 20000] [--decay 0.99] [--seed 0]

A trial of the levers (see ``benchmarks/levers.py``) scored an EMA of the ResNet's weights far
below the trained weights (0.85-0.90 against 0.92 on validation). This script asks whether that
was the method or the way it was computed. One training run of the lesson's recipe (on the
training images minus the validation split, optionally fewer of them and fewer epochs) keeps
two EMAs after every optimiser step: torch's ``AveragedModel`` with ``get_ema_multi_avg_fn``
and BatchNorm buffers averaged too (as the trial did), and :func:`ema_update` written out. It
prints the validation accuracy of the trained weights, of both EMAs, and of the trained weights
and the EMA with their BatchNorm statistics recomputed (``cnnedu.experiments.reestimate_batchnorm``
in the training precision, as lesson 03 does): averaged
weights need statistics of their own, which averaging the buffers does not give them. The test
split is never read.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from cnnedu import config
from cnnedu.data import FashionMNIST
from cnnedu.experiments import reestimate_batchnorm
from cnnedu.recipes import RECIPES
from cnnedu.splits import hold_out, subset
from cnnedu.train import evaluate, fit, make_optimizer


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    """``average <- decay * average + (1 - decay) * model`` for every parameter and floating
    buffer (BatchNorm's running statistics); integer buffers (a batch count) are copied."""
    for kept, new in zip(average.parameters(), model.parameters(), strict=True):
        kept.lerp_(new, 1 - decay)
    for kept, new in zip(average.buffers(), model.buffers(), strict=True):
        if kept.dtype.is_floating_point:
            kept.lerp_(new, 1 - decay)
        else:
            kept.copy_(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-limit", type=int, default=20_000)
    parser.add_argument("--decay", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bn-batches", type=int, default=40)
    args = parser.parse_args(argv)
    if not 0 < args.decay < 1 or args.epochs < 1 or args.train_limit < 1 or args.bn_batches < 1:
        parser.error("--decay must be in (0, 1); --epochs, --train-limit, --bn-batches >= 1")
    recipe = dataclasses.replace(RECIPES["resnet"], epochs=args.epochs)
    train, val = hold_out(FashionMNIST("train"))
    train = subset(train, range(min(args.train_limit, len(train))))
    config.seed_everything(args.seed)
    loader = recipe.train_loader(train, "cpu", seed=args.seed)
    model = recipe.build()
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last)
    torch_ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.decay),
                              use_buffers=True)
    own_ema = copy.deepcopy(model)
    optimizer = make_optimizer(recipe.optimizer, model.parameters(), recipe.lr,
                               recipe.weight_decay)
    optimizer.register_step_post_hook(lambda *_: (torch_ema.update_parameters(model),
                                                  ema_update(own_ema, model, args.decay)))
    kwargs = {k: v for k, v in recipe.fit_kwargs().items()
              if k not in ("lr", "weight_decay", "optimizer")}
    history = fit(model, loader, None, device="cpu", progress=False, optimizer=optimizer,
                  **kwargs)
    val_loader = recipe.test_loader(val, "cpu")
    precision = history.precision

    def accuracy(m: nn.Module) -> float:
        return evaluate(m, val_loader, "cpu", precision=precision)[1]

    gap = max((a - b).abs().max().item()
              for a, b in zip(torch_ema.module.parameters(), own_ema.parameters(),
                              strict=True))
    print(f"{len(train):,} training images, {args.epochs} epochs, seed {args.seed}, decay "
          f"{args.decay}, {precision}; validation accuracy (one view):")
    print(f"  trained weights                      {accuracy(model):.4f}")
    print(f"  AveragedModel EMA (buffers averaged) {accuracy(torch_ema.module):.4f}")
    print(f"  ema_update EMA (buffers averaged)    {accuracy(own_ema):.4f}   "
          f"(largest weight difference from AveragedModel: {gap:.1e})")
    plain = recipe.test_loader(train, "cpu", batch_size=recipe.batch_size)
    batches = [b for b, _ in zip(plain, range(args.bn_batches), strict=False)]
    for name, m in (("trained weights", copy.deepcopy(model)), ("ema_update EMA", own_ema)):
        reestimate_batchnorm(m, batches, batches=len(batches), precision=precision)
        print(f"  {name + ', BatchNorm recomputed':36} {accuracy(m):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
