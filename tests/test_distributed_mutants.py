"""cnnedu.distributed driven in this process: a one-rank gloo group (torchrun's environment set by
hand) reaches the code that otherwise only torchrun runs (``setup``, the demos, the comm hook, the
command line), so planted bugs there are noticed by the fast tests (tests/MUTANTS.md).

Truths: gradients of a linear model's mean squared error by the closed formula, PyTorch's
``nn.BatchNorm2d``, TrainConfig fields written out by hand, one process without a group.
"""

from __future__ import annotations

import math
import os
import re

import pytest
import torch
import torch.distributed as dist
from torch import nn

from cnnedu.data import FashionMNIST
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
    assert torch.get_num_threads() == max(1, group.usable_cores() // 2)
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


def test_threads_default_to_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr(group.os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    monkeypatch.setattr(group.os, "cpu_count", lambda: 64)     # the machine: not what counts
    assert [group.threads_per_process(n) for n in (1, 2, 4, 8)] == [6, 3, 1, 1]
    monkeypatch.delattr(group.os, "sched_getaffinity", raising=False)   # no affinity call
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


def test_bn_check_keeps_a_nan_that_follows_a_number(one_rank, monkeypatch, capsys):
    """A step that goes NaN is reported as NaN, not hidden behind an earlier finite difference."""
    import cnnedu.distributed.syncbn as syncbn

    monkeypatch.setattr(syncbn, "_distributed", lambda: True)
    original, calls = syncbn.SyncBatchNorm2d.forward, []

    def nan_in_the_second_step(self, x):
        calls.append(1)
        out = original(self, x)
        return out * float("nan") if len(calls) == 2 else out

    monkeypatch.setattr(syncbn.SyncBatchNorm2d, "forward", nan_in_the_second_step)
    worst = demo.bn_check(one_rank, steps=2)
    assert math.isnan(worst["output"]) and "output      : nan" in capsys.readouterr().out


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


# --- the scaling model ----------------------------------------------------------------------

def ring_by_hand(n, nbytes, bandwidth, latency):
    """2 (N - 1) hops of latency plus 2 (N - 1) / N of the bytes through the bandwidth."""
    return 2 * (n - 1) * latency + 2 * (n - 1) / n * nbytes / bandwidth


def test_plot_speedup_draws_each_network_against_the_ideal():
    import numpy as np
    from matplotlib.figure import Figure

    from cnnedu.distributed.scaling import NETWORKS, plot_speedup

    ax = Figure().subplots()
    plot_speedup(ax, compute=0.5, nbytes=4e6, label="ResNet, 4 MB of gradients", max_workers=64)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [*NETWORKS, "ideal (N times)"]
    n = lines[0].get_xdata()
    assert n[0] == 1 and n[-1] == 64 and list(n) == sorted(set(n))
    assert set(n) >= {1, 2, 4, 8, 16, 32, 64} and all(float(v).is_integer() for v in n)
    for line, (bandwidth, latency) in zip(lines, NETWORKS.values(), strict=False):
        expected = [0.5 / (0.5 / k + ring_by_hand(k, 4e6, bandwidth, latency)) for k in n]
        assert list(line.get_ydata()) == pytest.approx(expected)
    assert list(lines[-1].get_ydata()) == list(n) and lines[-1].get_linestyle() == ":"
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == \
        ("workers N", "speed-up over 1 worker", "ResNet, 4 MB of gradients")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [*NETWORKS, "ideal (N times)"]
    other = Figure().subplots()
    plot_speedup(other, 1.0, 0.0, "one network", networks={"slow": (1e6, 1e-2)})
    assert [line.get_label() for line in other.get_lines()] == ["slow", "ideal (N times)"]
    assert other.get_lines()[0].get_xdata()[-1] == 1024          # default: up to 1024 workers
    assert np.argmax(other.get_lines()[0].get_ydata()) < len(other.get_lines()[0].get_xdata()) - 1


def test_the_ring_model_refuses_impossible_settings_and_says_which():
    from cnnedu.distributed.scaling import ring_allreduce_seconds

    with pytest.raises(ValueError, match=r"n must be >= 1, got 0"):
        ring_allreduce_seconds(0, 1e6, 1e9, 1e-5)
    for args in ((2, 1e6, -1.0, 1e-5), (2, 1e6, 1e9, -1e-5), (2, -1.0, 1e9, 1e-5)):
        with pytest.raises(ValueError, match=r"need bandwidth > 0, latency >= 0, nbytes >= 0; "
                                             r"got "):
            ring_allreduce_seconds(*args)
    assert ring_allreduce_seconds(2, 0.0, 1e9, 0.0) == 0.0          # zero bytes, zero latency


def test_fit_allreduce_for_four_workers_and_its_clamps():
    import numpy as np

    from cnnedu.distributed.scaling import fit_allreduce

    sizes = np.array([1e3, 1e5, 1e7])
    latency, bandwidth = fit_allreduce(sizes, ring_by_hand(4, sizes, 5e8, 2e-5), n=4)
    assert (latency, bandwidth) == (pytest.approx(2e-5, rel=1e-6), pytest.approx(5e8, rel=1e-6))
    # times that fall with size: no positive latency or bandwidth fits; both are clamped
    latency, bandwidth = fit_allreduce([1e3, 1e6], [1.0, 0.5], n=2)
    assert latency > 0 and bandwidth == pytest.approx(1e30)
    latency, _ = fit_allreduce([1e3, 1e6], [0.0, 1.0], n=2)
    assert latency == 0.0
    for args in (([1e3], [1.0]), ([1e3, 1e4], [1.0]), ([1e3, 1e4], [1.0, 2.0], 1)):
        with pytest.raises(ValueError, match="at least two .* pairs of equal length and n >= 2"):
            fit_allreduce(*args)


def test_break_even_without_latency_is_the_most_workers_allowed():
    from cnnedu.distributed.scaling import break_even_workers

    # bandwidth only: t(N) = c / N + 2 (N - 1) / N b falls for ever; the limit is the answer
    assert break_even_workers(1.0, 1e6, 1e9, 0.0, max_workers=50) == 50
    assert break_even_workers(1e-3, 1e6, 1e12, 0.0) == 1 << 20


# --- launching torchrun agents ---------------------------------------------------------------

def test_node_command_is_one_c10d_agent_of_the_job():
    import sys

    from cnnedu.distributed.launcher import node_command

    assert node_command(["train", 3], 2, "host:29500", nproc=4, rdzv_id="job") == [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=4",
        "--rdzv-backend=c10d", "--rdzv-endpoint=host:29500", "--rdzv-id=job",
        "--max-restarts=0", "-m", "cnnedu.distributed", "train", "3"]
    assert node_command([], 1, "h:1")[-2:] == ["-m", "cnnedu.distributed"]
    assert "--rdzv-id=cnnedu" in node_command([], 1, "h:1")
    for kwargs, message in (({"nnodes": 0}, "nnodes must be an int >= 1, got 0"),
                            ({"nnodes": 1.5}, "nnodes must be an int >= 1, got 1.5"),
                            ({"nproc": 0}, "nproc must be an int >= 1, got 0"),
                            ({"endpoint": "host"}, "endpoint must be host:port, got 'host'"),
                            ({"endpoint": "a b:1"}, "endpoint must be host:port")):
        args = {"nnodes": 2, "endpoint": "localhost:1", **kwargs}
        with pytest.raises(ValueError, match=re.escape(message)):
            node_command([], args.pop("nnodes"), args.pop("endpoint"), **args)


def test_torchrun_command_refuses_bad_counts_and_names_them():
    from cnnedu.distributed.launcher import torchrun_command

    with pytest.raises(ValueError, match=re.escape("nproc must be an int >= 1, got '2'")):
        torchrun_command([], nproc="2")
    with pytest.raises(ValueError, match=re.escape("max_restarts must be an int >= 0, got -1")):
        torchrun_command([], max_restarts=-1)
    command = torchrun_command(["x"], nproc=1, max_restarts=2, module="m")
    assert command[3:] == ["--standalone", "--nproc-per-node=1", "--max-restarts=2", "-m", "m",
                           "x"]


def fake_agents(monkeypatch, code):
    """launch_nodes starts ``python -c code`` per agent instead of torchrun; what it asked for."""
    import sys

    from cnnedu.distributed import launcher

    asked = []

    def fake(args, nnodes, endpoint, nproc=1, rdzv_id="cnnedu", module="cnnedu.distributed"):
        asked.append((list(args), nnodes, endpoint, nproc, rdzv_id))
        return [sys.executable, "-c", code]

    monkeypatch.setattr(launcher, "node_command", fake)
    return asked


def test_launch_nodes_prefixes_each_agents_lines_and_shares_the_cores(monkeypatch, capsys):
    from cnnedu.distributed import launcher

    monkeypatch.setattr(launcher.os, "sched_getaffinity", lambda pid: set(range(8)),
                        raising=False)
    monkeypatch.setattr(launcher.os, "cpu_count", lambda: 64)   # the machine: not what counts
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)    # launch_nodes must set it itself
    asked = fake_agents(monkeypatch, "import os; print('threads', os.environ['OMP_NUM_THREADS'],"
                                     " os.environ['CNNEDU_THREADS_FROM_USER'], "
                                     "os.environ['PYTHONUNBUFFERED'], os.environ.get('EXTRA'))")
    result = launcher.launch_nodes(["train"], nnodes=2, nproc=2, env={"EXTRA": "yes"})
    assert sorted(result.lines) == ["[node 0] threads 2 1 1 yes", "[node 1] threads 2 1 1 yes"]
    assert result.returncode == 0 and not result.timed_out and result.seconds > 0
    (args, nnodes, endpoint, nproc, rdzv_id), = asked
    assert (args, nnodes, nproc) == (["train"], 2, 2)
    host, port = endpoint.split(":")
    assert host == "localhost" and rdzv_id == f"cnnedu-{os.getpid()}-{port}"
    assert sorted(capsys.readouterr().out.splitlines()) == sorted(result.lines)


def test_launch_nodes_reports_a_failed_agent_with_every_exit_code(monkeypatch):
    from cnnedu.distributed import launcher

    fake_agents(monkeypatch, "import sys; print('broken'); sys.exit(4)")
    with pytest.raises(RuntimeError, match=r"torchrun agents exited with \[4, 4\](.|\n)*broken"):
        launcher.launch_nodes([], nnodes=2, echo=False)
    result = launcher.launch_nodes([], nnodes=2, echo=False, check=False)
    assert result.returncode == 4 and not result.timed_out


def test_launch_nodes_kills_silent_agents_at_the_timeout(monkeypatch, capsys):
    import time

    from cnnedu.distributed import launcher

    fake_agents(monkeypatch, "import time; time.sleep(30)")
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"passed their timeout of 1 s and were killed"):
        launcher.launch_nodes([], nnodes=2, timeout=1, echo=False)
    result = launcher.launch_nodes([], nnodes=1, timeout=1, check=False)
    assert time.perf_counter() - start < 15
    assert result.timed_out and result.returncode != 0
    assert result.lines[-1] == ("[launch_nodes] timeout: killed the agents and their workers "
                                "after 1 s")
    assert capsys.readouterr().out.strip().endswith(result.lines[-1])


def test_launch_hides_torchruns_thread_advice_unless_asked(monkeypatch, capsys):
    import sys

    from cnnedu.distributed import launcher

    code = ("import os; print('*' * 5); print('Setting OMP_NUM_THREADS environment variable'); "
            "print('loss 1.5'); print(os.environ['PYTHONUNBUFFERED'], os.environ.get('EXTRA'))")
    monkeypatch.setattr(launcher, "torchrun_command",
                        lambda args, nproc=2, max_restarts=0: [sys.executable, "-c", code])
    result = launcher.launch([], env={"EXTRA": "x"})
    assert capsys.readouterr().out.splitlines() == ["loss 1.5", "1 x"]
    assert result.lines == ["*****", "Setting OMP_NUM_THREADS environment variable",
                            "loss 1.5", "1 x"]
    assert result.grep(r"^loss") == ["loss 1.5"] and result.grep("nothing") == []
    launcher.launch([], quiet_noise=False)
    assert len(capsys.readouterr().out.splitlines()) == 4
    launcher.launch([], echo=False)
    assert capsys.readouterr().out == ""


def test_a_timed_out_launch_says_so_in_its_last_line(monkeypatch, capsys):
    import sys

    from cnnedu.distributed import launcher

    monkeypatch.setattr(launcher, "torchrun_command",
                        lambda args, nproc=2, max_restarts=0: [sys.executable, "-c",
                                                               "import time; time.sleep(30)"])
    result = launcher.launch([], timeout=1, check=False)
    assert result.lines[-1] == ("[launch] timeout: killed torchrun and its workers after 1 s "
                                "(the limit was timeout=1 s)")
    assert capsys.readouterr().out.strip() == result.lines[-1]


def test_free_port_can_be_listened_on():
    import socket

    port = free_port()
    assert isinstance(port, int) and 0 < port < 65536
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("localhost", port))


# --- what the worker logs, checkpoints and returns --------------------------------------------

WORKER = dict(global_batch=32, max_steps_per_epoch=3, train_limit=256, augment=False,
              model="resnet-nobn", epochs=1)


def test_the_worker_logs_every_nth_step_and_the_last(monkeypatch, capsys):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    result = worker.train(worker.TrainConfig(**WORKER, log_every=2))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"world size 1, backend none, device cpu, {torch.get_num_threads()} "
                        f"thread(s) per process, 3 steps/epoch of 32 images per rank")
    steps = [line for line in lines if line.startswith("step ")]
    assert [s.split(" loss")[0] for s in steps] == ["step 2/3", "step 3/3"]   # 2, and the last
    for line, index in zip(steps, (1, 2), strict=True):
        loss, ms = re.fullmatch(r"step \d/3 loss (\d+\.\d{4}) \((\d+) ms, all-reduce 0 ms\)",
                                line).groups()
        assert float(loss) == pytest.approx(result["losses"][index], abs=1e-4)
        assert abs(int(ms) - result["step_seconds"][index] * 1000) <= 1


def test_the_worker_checkpoints_every_nth_step_with_what_a_resume_needs(monkeypatch, capsys,
                                                                       tmp_path):
    from cnnedu.train import load_checkpoint

    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    path = tmp_path / "run.pt"
    cfg = dict(WORKER, max_steps_per_epoch=4, epochs=2, log_every=0, checkpoint=str(path))
    whole = worker.train(worker.TrainConfig(**cfg, checkpoint_every=3))       # 8 steps
    assert capsys.readouterr().out.splitlines()[1:] == [f"checkpoint at step {k} -> {path}"
                                                        for k in (3, 6)]
    extra = load_checkpoint(path, worker.build_model("resnet-nobn"))
    assert extra["step"] == 6 and extra["world_size"] == 1
    assert extra["scheduler"]["last_epoch"] == 6 and torch.is_tensor(extra["rng"])
    resumed = worker.train(worker.TrainConfig(**cfg))
    assert capsys.readouterr().out.splitlines()[0] == f"resumed from {path} at step 6 (epoch 1)"
    assert len(resumed["losses"]) == 8 - 6
    # the one-cycle schedule resumes where it was: the same last two steps as the whole run
    assert resumed["losses"] == pytest.approx(whole["losses"][6:], rel=1e-5)


def test_the_worker_result_names_everything_it_measured(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    cfg = worker.TrainConfig(**{**WORKER, "max_steps_per_epoch": 1}, log_every=0, seed=3)
    result = worker.train(cfg)
    assert set(result) == {"config", "rank", "world_size", "threads", "device", "step_seconds",
                           "comm_seconds", "losses", "grad_bytes", "restart_count", "state"}
    assert result["config"] == {f.name: getattr(cfg, f.name)
                                for f in __import__("dataclasses").fields(cfg)}
    assert (result["rank"], result["world_size"], result["device"]) == (0, 1, "cpu")
    assert result["threads"] == torch.get_num_threads() and result["restart_count"] == 2
    assert len(result["losses"]) == 1 and result["losses"][0] > 0


def test_only_rank_0_logs_writes_and_evaluates(monkeypatch, capsys, tmp_path):
    """Rank 1 of 2 (no group here: it trains its shard alone) keeps quiet and writes nothing."""
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    result = worker.train(worker.TrainConfig(**{**WORKER, "max_steps_per_epoch": 1},
                                             log_every=1, out=str(tmp_path / "out"),
                                             evaluate=True),
                          group.Context(rank=1, world_size=2))
    assert capsys.readouterr().out == "" and not (tmp_path / "out").exists()
    assert "test_acc" not in result and result["rank"] == 1 and len(result["losses"]) == 1


def test_allreduce_bench_writes_only_from_rank_0_and_only_when_asked(one_rank, tmp_path, capsys):
    out = tmp_path / "deep" / "bench.json"
    result = demo.allreduce_bench(one_rank, None, repeats=1, sizes_kib=(1,))
    assert result["world_size"] == 1 and result["backend"] == "gloo"
    line = capsys.readouterr().out
    assert re.fullmatch(r"all_reduce      1 KiB: best +\d+\.\d{3} ms, median +\d+\.\d{3} ms\n",
                        line)
    demo.allreduce_bench(group.Context(rank=1), str(out), repeats=1, sizes_kib=(1,))
    assert not out.parent.exists() and capsys.readouterr().out == ""
    demo.allreduce_bench(one_rank, str(out), repeats=1, sizes_kib=(1,))
    assert out.is_file()                                # its folder is made


class FlushRecorder:
    """Stands in for sys.stdout: the order of writes and flushes."""

    def __init__(self):
        self.events = []

    def write(self, text):
        self.events.append(("write", text))

    def flush(self):
        self.events.append(("flush", None))

    def flushed(self, text):
        """Whether ``text`` was written and flushed before anything else was written."""
        for i, event in enumerate(self.events):
            if event == ("write", text):
                rest = [e for e in self.events[i + 1:] if e != ("write", "\n")]
                return bool(rest) and rest[0] == ("flush", None)
        return False


def test_launch_flushes_each_line_as_it_comes(monkeypatch):
    """In a notebook the lines must appear while torchrun runs, not at its end."""
    import sys

    from cnnedu.distributed import launcher

    code = "print('one'); print('two', flush=True); import time; time.sleep(30)"
    monkeypatch.setattr(launcher, "torchrun_command",
                        lambda args, nproc=2, max_restarts=0: [sys.executable, "-c", code])
    recorder = FlushRecorder()
    monkeypatch.setattr(sys, "stdout", recorder)
    result = launcher.launch([], timeout=2, check=False)
    assert recorder.flushed("one") and recorder.flushed("two")
    assert recorder.flushed(result.lines[-1]) and "timeout" in result.lines[-1]


def test_launch_nodes_flushes_each_line_as_it_comes(monkeypatch):
    import sys

    from cnnedu.distributed import launcher

    fake_agents(monkeypatch, "print('up', flush=True); import time; time.sleep(30)")
    recorder = FlushRecorder()
    monkeypatch.setattr(sys, "stdout", recorder)
    result = launcher.launch_nodes([], nnodes=1, timeout=2, check=False)
    assert recorder.flushed("[node 0] up") and recorder.flushed(result.lines[-1])


@pytest.mark.parametrize(("field", "message"), [
    ("epochs", "epochs must be at least 1, got 0"),
    ("global_batch", "global_batch must be at least 1, got 0")])
def test_train_config_names_a_count_below_one(field, message):
    with pytest.raises(ValueError, match=message):
        worker.TrainConfig(**{field: 0}).check()
    worker.TrainConfig(**{field: 1}).check()
    with pytest.raises(ValueError, match=r"model must be one of \('resnet', 'resnet-nobn'\), "
                                         r"got 'vgg'"):
        worker.TrainConfig(model="vgg").check()


def test_the_worker_step_numbers_run_on_over_epochs(monkeypatch, capsys):
    import time

    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    start = time.perf_counter()
    result = worker.train(worker.TrainConfig(**{**WORKER, "epochs": 2}, log_every=2))
    wall = time.perf_counter() - start
    steps = [line.split(" loss")[0] for line in capsys.readouterr().out.splitlines()
             if line.startswith("step ")]
    assert steps == ["step 2/6", "step 4/6", "step 6/6"]
    assert all(0 < s for s in result["step_seconds"]) and sum(result["step_seconds"]) < wall


def test_the_fault_switch_stops_the_run_at_the_global_step(monkeypatch, capsys):
    class Stopped(Exception):
        pass

    def fake_exit(code):
        raise Stopped(code)

    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    monkeypatch.setenv("CNNEDU_FAULT_STEP", "4")
    monkeypatch.setenv("CNNEDU_FAULT_RANK", "0")
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    monkeypatch.setattr(worker.os, "_exit", fake_exit)
    with pytest.raises(Stopped):
        worker.train(worker.TrainConfig(**{**WORKER, "epochs": 2}, log_every=1))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" loss")[0] for line in lines if line.startswith("step ")] == \
        ["step 1/6", "step 2/6", "step 3/6", "step 4/6"]           # steps 0-3 done
    assert lines[-1] == "[rank 0] fault switch: exiting at step 4"


def test_the_worker_draws_its_batches_as_the_recipe_and_seed_say(monkeypatch):
    """Truth: one step by hand on the seeded, augmented ShardedLoader's first batch."""
    from cnnedu import config
    from cnnedu.distributed.sharding import ShardedLoader

    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    cfg = worker.TrainConfig(**{**WORKER, "max_steps_per_epoch": 1, "augment": True},
                             log_every=0, seed=2, scheduler=None)
    result = worker.train(cfg)
    config.seed_everything(2)
    model = worker.build_model("resnet-nobn").to(memory_format=torch.channels_last)
    loader = ShardedLoader(FashionMNIST("train", limit=256), 32, augment=True,
                           shift=cfg.recipe().shift, channels_last=True, seed=2)
    x, y = next(iter(loader))
    loss = nn.functional.cross_entropy(model(x), y, label_smoothing=cfg.label_smoothing)
    assert result["losses"] == pytest.approx([loss.item()], rel=1e-5)
    state = result["state"]
    conv = next(k for k, v in state.items() if v.dim() == 4)
    assert state[conv].is_contiguous(memory_format=torch.channels_last)


def test_without_a_step_cap_an_epoch_is_the_whole_shard(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    uncapped = dict(WORKER, max_steps_per_epoch=None, train_limit=70)     # 70 // 32 = 2 steps
    assert len(worker.train(worker.TrainConfig(**uncapped, log_every=0))["losses"]) == 2
    capped = dict(uncapped, max_steps_per_epoch=5)                          # a cap above it
    assert len(worker.train(worker.TrainConfig(**capped, log_every=0))["losses"]) == 2


def test_sync_bn_converts_the_model_only_when_asked(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    converted = []
    real = worker.convert_sync_batchnorm
    monkeypatch.setattr(worker, "convert_sync_batchnorm",
                        lambda model, device: converted.append(device) or real(model, device))
    cfg = dict(WORKER, model="resnet", max_steps_per_epoch=1, log_every=0)
    plain = worker.train(worker.TrainConfig(**cfg))
    assert converted == []
    synced = worker.train(worker.TrainConfig(**cfg, sync_bn=True))
    assert converted == [torch.device("cpu")]
    assert synced["losses"] == pytest.approx(plain["losses"], rel=1e-5)   # one rank: same


def test_each_restart_attempt_keeps_its_own_keys_in_the_store(torchrun_env, monkeypatch):
    """After a restart the failed attempt's addresses may still be in torchrun's store; each
    attempt reads and writes under its own prefix, ``attempt<restart count>/``."""
    joined = []
    monkeypatch.setattr(group.dist, "init_process_group",
                        lambda backend, **kwargs: joined.append((backend, kwargs)))
    for attempt in ("0", "2"):
        monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", attempt)
        monkeypatch.setenv("MASTER_PORT", str(free_port()))
        group.setup()
        backend, kwargs = joined[-1]
        assert backend == "gloo" and (kwargs["rank"], kwargs["world_size"]) == (0, 1)
        assert kwargs["device_id"] is None
        kwargs["store"].set("address", "here")
        assert kwargs["store"].underlying_store.get(f"attempt{attempt}/address") == b"here"
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    group.setup()
    joined[-1][1]["store"].set("k", "v")
    assert joined[-1][1]["store"].underlying_store.get("attempt0/k") == b"v"


def test_by_hand_shards_and_averages_over_the_world_it_is_told(one_rank, capsys):
    """Rank 0 of a world of 2 (in a group of one, whose all-reduce is the identity): it takes
    samples 0, 2, 4, 6 and divides the summed gradient by 2, as the closed formula says."""
    demo.by_hand(group.Context(rank=0, world_size=2), global_batch=8)
    lines = capsys.readouterr().out.splitlines()
    torch.manual_seed(0)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    torch.manual_seed(1)
    model = nn.Linear(4, 1)
    w, b = model.weight.detach(), model.bias.detach()
    local = mse_weight_grad(x[0::2], y[0::2], w, b).flatten()
    assert lines[0].startswith("rank 0: 4 samples [0, 2, 4, 6], local grad [")
    before, after = lines[0].split("->")
    assert numbers(before.split("local grad")[1]) == pytest.approx(local.tolist(), abs=1e-4)
    assert numbers(after) == pytest.approx((local / 2).tolist(), abs=1e-4)
    whole = mse_weight_grad(x, y, w, b).flatten()
    assert numbers(lines[1]) == pytest.approx(whole.tolist(), abs=1e-4)
    ddp, single = (float(line.rsplit("=", 1)[1]) for line in lines[2:4])
    assert ddp == pytest.approx((local / 2).abs().max().item(), rel=0.05)   # DDP: a world of 1
    assert single == pytest.approx((whole - local / 2).abs().max().item(), rel=0.05)


# --- sharding and synchronised BatchNorm ------------------------------------------------------

@pytest.fixture(scope="module")
def small_data():
    return FashionMNIST("train", "bundled", limit=100)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"world_size": 0}, "world_size must be an int >= 1, got 0"),
    ({"world_size": 1.0}, "world_size must be an int >= 1, got 1.0"),
    ({"rank": 2, "world_size": 2}, "rank must be in 0..1, got 2"),
    ({"rank": -1, "world_size": 2}, "rank must be in 0..1, got -1"),
    ({"batch_size": 60, "world_size": 2}, "100 samples do not fill one global batch of "
                                          "60 x 2 = 120"),
])
def test_sharding_settings_are_refused_with_the_rule(small_data, kwargs, message):
    from cnnedu.distributed.sharding import ShardedLoader

    kwargs = {"batch_size": 10, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        ShardedLoader(small_data, kwargs.pop("batch_size"), **kwargs)


def test_a_shard_is_distributed_samplers_share_cut_to_whole_global_batches(small_data):
    """Truth: torch's DistributedSampler (drop_last, same seed and epoch), first 3 x 16 of it."""
    from torch.utils.data import DistributedSampler

    from cnnedu.distributed.sharding import ShardedLoader

    loader = ShardedLoader(small_data, 16, rank=1, world_size=2, seed=5)
    loader.set_epoch(3)
    sampler = DistributedSampler(range(100), num_replicas=2, rank=1, shuffle=True, seed=5,
                                 drop_last=True)
    sampler.set_epoch(3)
    assert len(loader) == 3 and loader.indices().tolist() == list(sampler)[:48]
    labels = torch.cat([y for _, y in loader])
    assert torch.equal(labels, small_data.labels[loader.indices()])
    in_order = ShardedLoader(small_data, 16, rank=0, world_size=2, shuffle=False)
    assert in_order.indices().tolist() == list(range(0, 96, 2))
    with pytest.raises(ValueError, match=re.escape("epoch must be an int >= 0, got 1.5")):
        loader.set_epoch(1.5)


def identity_group(monkeypatch):
    import cnnedu.distributed.syncbn as syncbn

    monkeypatch.setattr(syncbn, "_distributed", lambda: True)
    monkeypatch.setattr(syncbn.dist, "all_reduce", lambda tensor, op=None: None)


def test_sync_bn_without_affine_and_in_eval_mode_matches_pytorch(monkeypatch):
    from cnnedu.distributed.syncbn import SyncBatchNorm2d

    identity_group(monkeypatch)
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 2) * 2 + 1
    ours, ref = SyncBatchNorm2d(3, affine=False), nn.BatchNorm2d(3, affine=False)
    torch.testing.assert_close(ours(x), ref(x))
    with torch.no_grad():
        for layer in (ours, ref):
            layer.running_mean.fill_(0.5)
            layer.running_var.fill_(4.0)
    ours.eval()
    ref.eval()
    torch.testing.assert_close(ours(x), ref(x))            # eval: the running statistics


def test_sync_bn_refuses_one_value_per_channel_and_says_so(monkeypatch):
    from cnnedu.distributed.syncbn import SyncBatchNorm2d

    identity_group(monkeypatch)
    with pytest.raises(ValueError, match=re.escape(
            "SyncBatchNorm2d needs more than 1 value per channel over all ranks when training, "
            "got input shape (1, 3, 1, 1)")):
        SyncBatchNorm2d(3)(torch.randn(1, 3, 1, 1))
    SyncBatchNorm2d(3)(torch.randn(2, 3, 1, 1))             # two values: fine
    assert "(from scratch, synchronised)" in repr(SyncBatchNorm2d(3))


def test_convert_keeps_the_settings_and_mode_of_each_batchnorm():
    from cnnedu.distributed.syncbn import SyncBatchNorm2d, convert_sync_batchnorm

    source = nn.BatchNorm2d(3, eps=1e-3, momentum=0.3, affine=False).eval()
    synced = convert_sync_batchnorm(source)
    assert isinstance(synced, SyncBatchNorm2d) and not synced.training
    assert (synced.eps, synced.momentum, synced.affine) == (1e-3, 0.3, False)
    already = SyncBatchNorm2d(2)
    assert convert_sync_batchnorm(already) is already


def test_bn_check_on_half_the_batch_reports_the_difference(one_rank, capsys):
    """Told it is rank 0 of 2 (in a group of one), the BatchNorm sees half the batch: its
    statistics are not the whole batch's, and the check must say so, naming 2 ranks."""
    worst = demo.bn_check(group.Context(rank=0, world_size=2), steps=1)
    assert worst["output"] > 1e-3 and worst["running mean"] > 1e-4
    assert capsys.readouterr().out.startswith("max |sync BN on 2 ranks - one process|, output")


def test_launch_errors_show_the_arguments_and_the_last_15_lines(monkeypatch):
    import sys

    from cnnedu.distributed import launcher

    code = "import sys\nfor i in range(20): print(f'line {i}')\nsys.exit(3)"
    monkeypatch.setattr(launcher, "torchrun_command", lambda args, nproc=2, max_restarts=0:
                        [sys.executable, "-c", code, *args])
    with pytest.raises(RuntimeError) as info:
        launcher.launch(["train", "--epochs", "1"], echo=False)
    lines = str(info.value).splitlines()
    assert lines[0] == "torchrun exited with 3: train --epochs 1"
    assert lines[1:] == [f"line {i}" for i in range(5, 20)]
    monkeypatch.setattr(launcher, "torchrun_command", lambda args, nproc=2, max_restarts=0:
                        [sys.executable, "-c", "print('hi'); import time; time.sleep(30)", *args])
    with pytest.raises(TimeoutError) as info:
        launcher.launch(["bench"], echo=False, timeout=1)
    lines = str(info.value).splitlines()
    assert lines[0] == "torchrun passed its timeout of 1 s and was killed: bench"
    assert lines[1:] == ["hi", "[launch] timeout: killed torchrun and its workers after 1 s "
                               "(the limit was timeout=1 s)"]


def test_launch_nodes_gives_each_process_at_least_one_thread(monkeypatch):
    from cnnedu.distributed import launcher

    monkeypatch.setattr(launcher.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    fake_agents(monkeypatch, "import os; print(os.environ['OMP_NUM_THREADS'])")
    result = launcher.launch_nodes([], nnodes=2, nproc=2, echo=False)   # 4 processes, 2 cores
    assert sorted(result.lines) == ["[node 0] 1", "[node 1] 1"]
    monkeypatch.delattr(launcher.os, "sched_getaffinity", raising=False)   # no affinity call
    monkeypatch.setattr(launcher.os, "cpu_count", lambda: None)
    result = launcher.launch_nodes([], nnodes=1, echo=False)
    assert result.lines == ["[node 0] 1"]
