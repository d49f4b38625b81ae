"""The torchrun worker in one process: its settings are the recipe's, its loop is fit's, and a
resumed run ends where an uninterrupted one does."""

from __future__ import annotations

import contextlib
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


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_worker_steps_with_the_recipes_optimizer_and_schedule(monkeypatch, precision):
    """The worker's losses are those of the same model trained by hand with torch.optim.SGD
    (Nesterov, the recipe's weight decay) and a one-cycle schedule over all steps, with the
    forward pass and loss under bf16 autocast when the precision says so."""
    from cnnedu import config
    from cnnedu.data import FashionMNIST
    from cnnedu.distributed.sharding import ShardedLoader
    from cnnedu.distributed.worker import build_model

    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    cfg = TrainConfig(epochs=2, precision=precision, **SMALL)
    result = train(cfg)
    assert result["config"]["precision"] == precision
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
            cast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
                    else contextlib.nullcontext())
            with cast:
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


def test_models_are_the_recipes_resnet_and_its_twin_without_batchnorm():
    from torch import nn

    from cnnedu.distributed.worker import build_model
    from cnnedu.models.resnet import resnet_mini

    def shapes(model):
        return [tuple(p.shape) for p in model.parameters()]

    assert shapes(build_model("resnet")) == shapes(get_recipe("resnet").build())
    plain = build_model("resnet-nobn")
    assert shapes(plain) == shapes(resnet_mini(depth=8, width=16, batchnorm=False))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in plain.modules())


def test_the_fault_switch_exits_once_on_the_chosen_rank_and_step(monkeypatch):
    from cnnedu.distributed import worker
    from cnnedu.distributed.group import Context

    exits = []
    monkeypatch.setattr(worker.os, "_exit", lambda code: exits.append(code))
    monkeypatch.setenv("CNNEDU_FAULT_STEP", "2")
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    for rank in (0, 1):
        for step in range(4):
            worker._fault_switch(Context(rank=rank, world_size=2), step)
    assert exits == [1]                                  # rank 1 (the default), step 2 only
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    worker._fault_switch(Context(rank=1, world_size=2), 2)
    assert exits == [1]                                  # a restarted run runs through


def test_bad_checkpoint_every_is_named():
    with pytest.raises(ValueError, match="checkpoint_every must be >= 0, got -1"):
        TrainConfig(checkpoint_every=-1).check()


def test_max_state_diff_by_hand():
    a = {"w": torch.tensor([1.0, 2.0]), "bn.running_mean": torch.tensor([0.0]),
         "bn.num_batches_tracked": torch.tensor(3)}
    b = {"w": torch.tensor([1.5, 2.0]), "bn.running_mean": torch.tensor([2.0]),
         "bn.num_batches_tracked": torch.tensor(9)}
    assert max_state_diff(a, b) == 2.0                       # integers are not compared
    assert max_state_diff(a, b, buffers=False) == 0.5        # running statistics left out


def test_result_reports_bytes_restarts_logs_and_test_accuracy(monkeypatch, capsys):
    """Hand truths: gradient bytes = 4 bytes per float32 parameter; test accuracy is
    evaluate() of the final weights on the test split; the last log line is step 3/3."""
    from cnnedu.data import BatchLoader, FashionMNIST
    from cnnedu.distributed.worker import build_model
    from cnnedu.train import evaluate

    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    result = train(TrainConfig(epochs=1, evaluate=True, **{**SMALL, "log_every": 3}))
    model = build_model("resnet-nobn")
    assert result["grad_bytes"] == 4 * sum(p.numel() for p in model.parameters())
    assert result["restart_count"] == 0 and result["world_size"] == 1
    assert "step 3/3 loss" in capsys.readouterr().out
    model.load_state_dict(result["state"])
    expected = evaluate(model, BatchLoader(FashionMNIST("test"), 500), "cpu")
    assert (result["test_loss"], result["test_acc"]) == pytest.approx(expected, rel=1e-5)


def test_float64_trains_in_double_precision(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    result = train(TrainConfig(epochs=1, float64=True, **{**SMALL, "max_steps_per_epoch": 1}))
    assert all(v.dtype == torch.float64 for v in result["state"].values()
               if v.is_floating_point())


def test_a_global_batch_the_ranks_cannot_share_is_refused():
    from cnnedu.distributed.group import Context

    with pytest.raises(ValueError, match="global_batch 32 is not divisible by the world size 3"):
        train(TrainConfig(**SMALL), Context(world_size=3))


def test_precision_is_fp32_unless_asked_and_bad_values_are_named():
    assert TrainConfig().precision == "fp32"       # lesson 06's equality runs need fp32
    assert TrainConfig(precision="bf16").recipe().precision == "bf16"
    with pytest.raises(ValueError, match="precision must be one of 'fp32', 'bf16', 'auto', got 'fp16'"):
        TrainConfig(precision="fp16").check()
    with pytest.raises(ValueError, match="float64=True trains in double precision; it excludes "
                                         "precision='bf16'"):
        TrainConfig(float64=True, precision="bf16").check()
