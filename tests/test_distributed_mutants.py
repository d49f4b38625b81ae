"""cnnedu.distributed driven in this process: a one-rank gloo group (torchrun's environment set by
hand) reaches the code that otherwise only torchrun runs (``setup``, the demos, the comm hook, the
command line), so planted bugs there are noticed by the fast tests (tests/MUTANTS.md).

Truths: gradients of a linear model's mean squared error by the closed formula, PyTorch's
``nn.BatchNorm2d``, TrainConfig fields written out by hand, one process without a group.
"""

from __future__ import annotations

import os
import re

import pytest
import torch
import torch.distributed as dist
from torch import nn

from cnnedu.distributed import __main__ as cli
from cnnedu.distributed import demo, group, results, worker
from cnnedu.distributed.commhook import CommTimer, timed_allreduce_hook
from cnnedu.distributed.launcher import free_port

SMALL = ["--global-batch", "32", "--max-steps-per-epoch", "2", "--train-limit", "256",
         "--no-augment", "--model", "resnet-nobn"]


@pytest.fixture
def torchrun_env(monkeypatch):
    """The variables torchrun sets for a world of one, and the thread count put back after."""
    threads = torch.get_num_threads()
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0",
                        "LOCAL_WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(free_port()), "CNNEDU_DATA": "bundled"}.items():
        monkeypatch.setenv(name, value)
    for name in ("CNNEDU_THREADS_FROM_USER", "TORCHELASTIC_RESTART_COUNT", "CNNEDU_FAULT_STEP"):
        monkeypatch.delenv(name, raising=False)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
    torch.set_num_threads(threads)


@pytest.fixture
def one_rank(torchrun_env):
    ctx = group.setup()
    yield ctx
    group.teardown(ctx)


def test_setup_joins_a_gloo_group_of_the_given_rank_and_teardown_leaves_it(torchrun_env,
                                                                            monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")      # as if a second process shared the node
    ctx = group.setup()
    assert ctx == group.Context(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    assert ctx.distributed and dist.get_backend() == "gloo" and dist.get_world_size() == 1
    assert torch.get_num_threads() == max(1, (os.cpu_count() or 1) // 2)
    group.teardown(ctx)
    assert not dist.is_initialized() and not ctx.distributed


def test_setup_keeps_the_users_thread_count_and_is_plain_without_torchrun(torchrun_env,
                                                                          monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("CNNEDU_THREADS_FROM_USER", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    ctx = group.setup()
    assert torch.get_num_threads() == 1
    group.teardown(ctx)
    monkeypatch.delenv("RANK")
    assert group.setup() == group.Context() and not dist.is_initialized()
    group.teardown(group.Context())                   # no group: nothing to leave, no error


def test_threads_default_to_this_machines_cores(monkeypatch):
    monkeypatch.setattr(group.os, "cpu_count", lambda: 6)
    assert [group.threads_per_process(n) for n in (1, 2, 4, 8)] == [6, 3, 1, 1]
    monkeypatch.setattr(group.os, "cpu_count", lambda: None)
    assert group.threads_per_process(1) == 1


def mse_weight_grad(x, y, weight, bias):
    """d/dW of mean((x W^T + b - y)^2), by the closed formula 2/N (xW^T + b - y)^T x."""
    return 2 * ((x @ weight.T + bias - y).T @ x) / len(x)


def numbers(text):
    return [float(v) for v in re.findall(r"[-+]\d+\.\d+", text)]


def test_by_hand_prints_the_averaged_gradient_of_the_whole_batch(one_rank, capsys):
    demo.by_hand(one_rank, global_batch=6)
    lines = capsys.readouterr().out.splitlines()
    torch.manual_seed(0)
    x, y = torch.randn(6, 4), torch.randn(6, 1)
    torch.manual_seed(1)
    model = nn.Linear(4, 1)
    truth = mse_weight_grad(x, y, model.weight.detach(), model.bias.detach()).flatten().tolist()
    assert lines[0].startswith("rank 0: 6 samples [0, 1, 2, 3, 4, 5], local grad [")
    local, averaged = lines[0].split("->")
    assert numbers(local.split("local grad")[1]) == pytest.approx(truth, abs=1e-4)
    assert numbers(averaged) == pytest.approx(truth, abs=1e-4)   # one rank: the average is it
    assert lines[1].startswith("one process, whole batch:  grad [")
    assert numbers(lines[1]) == pytest.approx(truth, abs=1e-4)
    ddp, single = (float(line.rsplit("=", 1)[1]) for line in lines[2:4])
    assert lines[2].startswith("max |by hand - DDP|") and ddp < 1e-6
    assert lines[3].startswith("max |by hand - one process|") and single < 1e-6
    assert len(lines) == 4


def test_bn_check_compares_the_synchronised_path_with_pytorch(one_rank, monkeypatch, capsys):
    """With the synchronised path forced on (one rank: the all-reduces are identities) every
    difference from nn.BatchNorm2d on the same batch is float32 rounding."""
    import cnnedu.distributed.syncbn as syncbn

    calls = []
    monkeypatch.setattr(syncbn, "_distributed", lambda: calls.append(1) or True)
    worst = demo.bn_check(one_rank, steps=2)
    assert calls                                   # the synchronised forward ran
    assert list(worst) == ["output", "input grad", "weight grad", "bias grad", "running mean",
                           "running var"]
    assert all(0 <= value < 1e-4 for value in worst.values())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    for line, (name, value) in zip(lines, worst.items(), strict=True):
        assert line.startswith(f"max |sync BN on 1 ranks - one process|, {name}")
        assert float(line.rsplit(":", 1)[1]) == pytest.approx(value, rel=0.05, abs=1e-12)


def test_bn_check_notices_a_wrong_running_variance(one_rank, monkeypatch, capsys):
    """The check is a real check: a BatchNorm that stores the biased variance is reported."""
    import cnnedu.distributed.syncbn as syncbn

    monkeypatch.setattr(syncbn, "_distributed", lambda: True)
    original = syncbn.SyncBatchNorm2d.update_running_stats
    monkeypatch.setattr(syncbn.SyncBatchNorm2d, "update_running_stats",
                        lambda self, mean, var, n: original(self, mean, var, n + 10_000))
    assert demo.bn_check(one_rank, steps=1)["running var"] > 1e-3


def test_comm_hook_averages_over_the_world_and_times_and_counts_the_bytes(one_rank):
    class Bucket:
        def __init__(self, tensor):
            self.tensor = tensor

        def buffer(self):
            return self.tensor

    timer = CommTimer(world_size=4, cuda=False)       # a group of 1 that claims 4 ranks:
    future = timed_allreduce_hook(timer, Bucket(torch.tensor([4.0, 8.0, -2.0])))
    assert future.wait().tolist() == [1.0, 2.0, -0.5]  # the sum of one rank, divided by 4
    timed_allreduce_hook(timer, Bucket(torch.zeros(5, dtype=torch.float64)))
    assert timer.bytes == 3 * 4 + 5 * 8 and timer.seconds > 0


def test_the_worker_in_a_group_of_one_trains_like_one_plain_process(one_rank, monkeypatch,
                                                                   capsys, tmp_path):
    """DDP over one rank averages over one: the same weights as no group at all; its comm hook
    times every step, and the run logs the group it is in."""
    cfg = dict(global_batch=32, max_steps_per_epoch=2, train_limit=256, augment=False,
               model="resnet-nobn", log_every=1, epochs=1)
    in_group = worker.train(worker.TrainConfig(**cfg, out=str(tmp_path)), one_rank)
    log = capsys.readouterr().out
    assert "world size 1, backend gloo, device cpu" in log
    assert "2 steps/epoch of 32 images per rank" in log
    assert re.search(r"step 2/2 loss \d+\.\d{4} \(\d+ ms, all-reduce \d+ ms\)", log)
    assert len(in_group["comm_seconds"]) == 2 and all(s > 0 for s in in_group["comm_seconds"])
    assert all(c < s for c, s in zip(in_group["comm_seconds"], in_group["step_seconds"],
                                     strict=True))
    group.teardown(one_rank)
    plain = worker.train(worker.TrainConfig(**cfg))
    assert results.max_state_diff(in_group["state"], plain["state"]) <= 1e-6
    assert plain["comm_seconds"] == [0.0, 0.0]        # no group: no all-reduce
    written = results.read_result(tmp_path)
    assert written["losses"] == in_group["losses"]


def test_write_result_splits_the_weights_from_the_numbers(tmp_path):
    import json

    state = {"w": torch.tensor([1.0, -2.0]), "n": torch.tensor(3)}
    results.write_result(tmp_path / "run", {"rank": 0, "losses": [2.5, 1.5], "state": state})
    assert sorted(os.listdir(tmp_path / "run")) == ["result.json", "state.pt"]
    assert json.loads((tmp_path / "run" / "result.json").read_text()) == \
        {"rank": 0, "losses": [2.5, 1.5]}
    loaded = torch.load(tmp_path / "run" / "state.pt", weights_only=True)
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    back = results.read_result(tmp_path / "run")
    assert back["losses"] == [2.5, 1.5] and torch.equal(back["state"]["w"], state["w"])


def test_max_state_diff_names_the_keys_that_differ():
    with pytest.raises(ValueError, match=r"state dicts differ in keys: \['b', 'c'\]"):
        results.max_state_diff({"a": torch.zeros(1), "b": torch.zeros(1)},
                               {"a": torch.zeros(1), "c": torch.zeros(1)})
    only_ints = {"n": torch.tensor(1)}
    assert results.max_state_diff(only_ints, {"n": torch.tensor(5)}) == 0.0


# --- the command line -----------------------------------------------------------------------

def test_train_defaults_are_the_worker_defaults():
    args = cli.parse(["train"])
    options = {k: v for k, v in vars(args).items() if k != "command"}
    assert args.command == "train" and worker.TrainConfig(**options) == worker.TrainConfig()


def test_every_train_option_reaches_the_config():
    args = cli.parse(["train", "--model", "resnet-nobn", "--epochs", "3", "--global-batch", "64",
                      "--lr", "0.02", "--optimizer", "adamw", "--weight-decay", "0.01",
                      "--label-smoothing", "0.2", "--scheduler", "cosine",
                      "--max-steps-per-epoch", "5", "--train-limit", "512", "--no-augment",
                      "--sync-bn", "--seed", "7", "--checkpoint", "c.pt",
                      "--checkpoint-every", "4", "--out", "res", "--evaluate",
                      "--log-every", "2", "--float64"])
    options = {k: v for k, v in vars(args).items() if k != "command"}
    assert worker.TrainConfig(**options) == worker.TrainConfig(
        model="resnet-nobn", epochs=3, global_batch=64, lr=0.02, optimizer="adamw",
        weight_decay=0.01, label_smoothing=0.2, scheduler="cosine", max_steps_per_epoch=5,
        train_limit=512, augment=False, sync_bn=True, seed=7, checkpoint="c.pt",
        checkpoint_every=4, out="res", evaluate=True, log_every=2, float64=True)


def test_the_other_commands_and_their_options():
    assert vars(cli.parse(["by-hand"])) == {"command": "by-hand", "global_batch": 8}
    assert cli.parse(["by-hand", "--global-batch", "12"]).global_batch == 12
    assert vars(cli.parse(["bn-check"])) == {"command": "bn-check"}
    assert vars(cli.parse(["allreduce-bench"])) == {"command": "allreduce-bench", "out": None,
                                                     "repeats": 20}
    assert vars(cli.parse(["allreduce-bench", "--out", "b.json", "--repeats", "3"])) == \
        {"command": "allreduce-bench", "out": "b.json", "repeats": 3}
    with pytest.raises(SystemExit):
        cli.parse([])                                 # a command is required
    with pytest.raises(SystemExit):
        cli.parse(["train", "--model", "vgg"])        # only the worker's models


def test_the_help_says_what_each_command_and_option_does(capsys):
    with pytest.raises(SystemExit):
        cli.parse(["--help"])
    top = capsys.readouterr().out
    assert top.startswith("usage: python -m cnnedu.distributed")
    for words in ("train the lesson's ResNet data-parallel", "all_reduce of gradients by hand",
                  "synchronised BatchNorm vs one process", "time all_reduce by message size"):
        assert words in top
    with pytest.raises(SystemExit):
        cli.parse(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("images per step over all ranks", "use a balanced subset",
                  "nn.SyncBatchNorm on CUDA, ours on CPU", "file to resume from and write to",
                  "steps between checkpoints", "folder for result.json and state.pt",
                  "test accuracy at the end", "train in double precision"):
        assert words in text


@pytest.mark.parametrize("command", ["by-hand", "bn-check", "allreduce-bench"])
def test_demos_without_torchrun_say_how_to_start_them(monkeypatch, command):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command])
    assert str(exit_info.value) == (f"{command} needs torchrun: torchrun --nproc-per-node=2 -m "
                                    f"cnnedu.distributed {command}")


def test_main_trains_without_torchrun_and_writes_the_result(monkeypatch, tmp_path):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    assert cli.main(["train", *SMALL, "--log-every", "0", "--out", str(tmp_path)]) == 0
    result = results.read_result(tmp_path)
    assert result["world_size"] == 1 and len(result["losses"]) == 2
    assert result["config"]["model"] == "resnet-nobn" and result["config"]["augment"] is False


def test_main_runs_each_demo_in_a_group_and_leaves_it(torchrun_env, tmp_path, capsys):
    assert cli.main(["by-hand", "--global-batch", "4"]) == 0
    assert not dist.is_initialized()
    assert "rank 0: 4 samples [0, 1, 2, 3]" in capsys.readouterr().out
    assert cli.main(["bn-check"]) == 0
    assert capsys.readouterr().out.count("max |sync BN on 1 ranks - one process|") == 6
    out = tmp_path / "bench.json"
    assert cli.main(["allreduce-bench", "--repeats", "1", "--out", str(out)]) == 0
    import json

    rows = json.loads(out.read_text())["rows"]
    assert [row["bytes"] for row in rows] == [k * 1024 for k in (1, 4, 16, 64, 256, 1024, 4096,
                                                                 16384)]
    assert not dist.is_initialized()


def test_a_failing_command_still_raises(torchrun_env, monkeypatch):
    def broken(ctx, global_batch):
        raise RuntimeError("boom")

    monkeypatch.setattr(demo, "by_hand", broken)
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["by-hand"])
