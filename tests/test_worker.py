"""The torchrun worker in one process: its settings are the recipe's, its loop is fit's, and a
resumed run ends where an uninterrupted one does."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cnnedu.distributed.worker import TrainConfig, max_state_diff, train
from cnnedu.recipes import get_recipe

SMALL = dict(global_batch=32, max_steps_per_epoch=3, train_limit=256, augment=False,
             log_every=0, model="resnet-nobn")


def test_train_config_defaults_are_the_resnet_recipe():
    recipe, defaults = get_recipe("resnet"), TrainConfig().recipe()
    same = ("lr", "optimizer", "weight_decay", "label_smoothing", "scheduler", "augment", "shift")
    assert {k: getattr(defaults, k) for k in same} == {k: getattr(recipe, k) for k in same}
    assert defaults.batch_size == recipe.batch_size
    changed = TrainConfig(lr=0.05, label_smoothing=0.0, global_batch=64, epochs=3).recipe()
    assert (changed.lr, changed.label_smoothing, changed.batch_size, changed.epochs) == \
        (0.05, 0.0, 64, 3)


def test_worker_steps_with_the_recipes_optimizer_and_schedule(monkeypatch):
    """The worker's losses are those of the same model trained by hand with torch.optim.SGD
    (Nesterov, the recipe's weight decay) and a one-cycle schedule over all steps."""
    from cnnedu import config
    from cnnedu.data import FashionMNIST
    from cnnedu.distributed.sharding import ShardedLoader
    from cnnedu.distributed.worker import build_model

    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    cfg = TrainConfig(epochs=2, **SMALL)
    result = train(cfg)
    config.seed_everything(cfg.seed)
    model = build_model(cfg.model).to(memory_format=torch.channels_last)
    sgd = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                          weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(sgd, max_lr=cfg.lr, total_steps=6,
                                                   pct_start=2 / 6)   # >= two steps up
    loader = ShardedLoader(FashionMNIST("train", limit=256), 32, channels_last=True)
    losses = []
    for epoch in range(2):
        loader.set_epoch(epoch)
        for _, (x, y) in zip(range(3), loader, strict=False):
            loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
            sgd.zero_grad()
            loss.backward()
            sgd.step()
            schedule.step()
            losses.append(loss.item())
    assert result["losses"] == pytest.approx(losses, rel=1e-5)
    assert len(result["step_seconds"]) == len(result["comm_seconds"]) == 6


def test_resumed_run_ends_with_the_uninterrupted_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    whole = train(TrainConfig(epochs=2, scheduler=None, **SMALL))
    checkpoint = tmp_path / "ckpt.pt"
    first = train(TrainConfig(epochs=1, scheduler=None, checkpoint=str(checkpoint),
                              checkpoint_every=3, **SMALL))
    resumed = train(TrainConfig(epochs=2, scheduler=None, checkpoint=str(checkpoint), **SMALL))
    assert resumed["losses"] == pytest.approx(whole["losses"][3:], rel=1e-6)
    assert first["losses"] == pytest.approx(whole["losses"][:3], rel=1e-6)
    assert max_state_diff(resumed["state"], whole["state"]) < 1e-6
    assert dataclasses.asdict(TrainConfig())["lr"] == get_recipe("resnet").lr
