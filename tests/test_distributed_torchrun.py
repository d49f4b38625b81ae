"""cnnedu.distributed under real torchrun launches: 2 gloo processes on the CPU (one node, or
two torchrun agents on this machine acting as two nodes).

Each launch starts fresh processes (about 5-8 s on 2 cores), so the checks share launches:
the uninterrupted DDP run is both the equivalence run and the baseline of the kill-and-resume
run. Every launch must exit 0 with no "terminate called" abort (the clean-shutdown check).
"""

import re

import pytest

from cnnedu.distributed import launch, launch_nodes
from cnnedu.distributed.launcher import node_command
from cnnedu.distributed.worker import TrainConfig, max_state_diff, read_result, train

pytestmark = pytest.mark.slow

COMMON = ["--global-batch", "32", "--max-steps-per-epoch", "3", "--epochs", "2",
          "--train-limit", "256", "--no-augment", "--log-every", "0"]
ENV = {"CNNEDU_DATA": "bundled"}


def _run(args, nproc=2, **kwargs):
    result = launch(args, nproc=nproc, env={**ENV, **kwargs.pop("env", {})}, echo=False, **kwargs)
    output = "\n".join(result.lines)
    assert result.returncode == 0, output[-3000:]
    assert "terminate called" not in output, output[-3000:]
    return result


def _reference(monkeypatch, **overrides):
    """One process, no process group, the whole global batch per step: computed right here."""
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    options = dict(global_batch=32, max_steps_per_epoch=3, epochs=2, train_limit=256,
                   augment=False, log_every=0)
    return train(TrainConfig(**{**options, **overrides}))["state"]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    _run(["train", "--model", "resnet-nobn", "--lr", "0.02", *COMMON, "--out", out])
    return read_result(out)


def test_ddp_equals_one_process_with_the_global_batch(ddp_run, monkeypatch):
    reference = _reference(monkeypatch, model="resnet-nobn", lr=0.02)
    assert ddp_run["world_size"] == 2
    assert max_state_diff(ddp_run["state"], reference) <= 1e-5


def test_two_nodes_equal_the_one_node_run(ddp_run, tmp_path):
    """Two torchrun agents (--nnodes=2, one process each, c10d rendezvous on localhost), as on
    two machines: the same weights as the one-node run with 2 processes (same threads each)."""
    result = launch_nodes(["train", "--model", "resnet-nobn", "--lr", "0.02", *COMMON,
                           "--out", tmp_path], nnodes=2, nproc=1, env=ENV, echo=False)
    output = "\n".join(result.lines)
    assert result.returncode == 0 and "terminate called" not in output, output[-3000:]
    assert "--nnodes=2" in result.command and "--rdzv-backend=c10d" in result.command
    two_nodes = read_result(tmp_path)
    assert two_nodes["world_size"] == 2       # one process per agent: both agents joined
    assert max_state_diff(two_nodes["state"], ddp_run["state"]) <= 1e-6


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(nnodes=0, endpoint="h:1"), "nnodes must be an int >= 1, got 0"),
    (dict(nnodes=2, endpoint="h:1", nproc=0), "nproc must be an int >= 1, got 0"),
    (dict(nnodes=2, endpoint="node1"), "endpoint must be host:port, got 'node1'")])
def test_node_command_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        node_command(["train"], **kwargs)


def test_killed_worker_resumes_to_the_same_weights(ddp_run, tmp_path):
    out, checkpoint = tmp_path / "out", tmp_path / "ckpt.pt"
    result = _run(["train", "--model", "resnet-nobn", "--lr", "0.02", *COMMON, "--out", out,
                   "--checkpoint", checkpoint, "--checkpoint-every", "2"],
                  max_restarts=1, env={"CNNEDU_FAULT_STEP": "3"})
    assert result.grep(r"fault switch: exiting at step 3")
    assert result.grep(r"resumed from .* at step 2")
    resumed = read_result(out)
    assert resumed["restart_count"] == 1
    assert max_state_diff(resumed["state"], ddp_run["state"]) == 0.0


def test_sync_bn_equals_pytorch_batchnorm_over_the_global_batch(tmp_path, monkeypatch):
    """float64, so what is compared is the statistics, not float32 rounding that training
    amplifies (in float32 one process on 1 vs 2 threads already drifts ~1e-4 in a few steps).
    The reference uses nn.BatchNorm2d; running statistics are part of the state compared."""
    _run(["train", "--model", "resnet", "--lr", "0.05", "--float64", "--sync-bn", *COMMON,
          "--out", tmp_path])
    reference = _reference(monkeypatch, model="resnet", lr=0.05, float64=True)
    assert max_state_diff(read_result(tmp_path)["state"], reference) <= 1e-9


def test_sync_bn_layer_forward_backward_and_running_stats():
    result = _run(["bn-check"])
    values = {m.group(1).strip(): float(m.group(2)) for line in result.lines
              if (m := re.search(r"one process\|, (.+?): ([0-9.e+-]+)$", line))}
    assert set(values) == {"output", "input grad", "weight grad", "bias grad", "running mean",
                           "running var"}
    assert all(v <= 1e-4 for v in values.values()), values


@pytest.mark.parametrize("attempt", range(2))
def test_by_hand_allreduce_equals_ddp_and_shuts_down_cleanly(attempt):
    result = _run(["by-hand"])
    by_ddp = float(result.grep(r"by hand - DDP")[0].split("=")[1])
    by_one = float(result.grep(r"by hand - one process")[0].split("=")[1])
    assert by_ddp <= 1e-6 and by_one <= 1e-6
