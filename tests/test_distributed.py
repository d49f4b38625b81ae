"""cnnedu.distributed without torchrun: sharding, sync BN alone, the cost model, threads."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from cnnedu.data import FashionMNIST
from cnnedu.distributed import ShardedLoader, SyncBatchNorm2d, convert_sync_batchnorm, group
from cnnedu.distributed.launcher import torchrun_command
from cnnedu.distributed.scaling import (
    break_even_workers,
    fit_allreduce,
    ring_allreduce_seconds,
    step_seconds,
)
from cnnedu.distributed.worker import TrainConfig, max_state_diff, threads_per_process
from cnnedu.layers import BatchNorm2d


@pytest.fixture(scope="module")
def dataset():
    return FashionMNIST("train", root="bundled", limit=230)


def _fingerprints(x: torch.Tensor) -> list[float]:
    """One number per image (its pixel sum): a way to see which images a batch holds."""
    return x.double().flatten(1).sum(1).tolist()


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_every_sample_once_per_epoch_across_ranks(dataset, world_size):
    batch = 8
    loaders = [ShardedLoader(dataset, batch, r, world_size, seed=3) for r in range(world_size)]
    for epoch in (0, 1):
        seen = []
        for loader in loaders:
            loader.set_epoch(epoch)
            seen.append(loader.indices())
            assert len(list(loader)) == len(loader) == 230 // (batch * world_size)
        everything = torch.cat(seen)
        assert len(everything) == len(everything.unique())            # no sample twice
        assert len(everything) == (230 // (batch * world_size)) * batch * world_size
        assert len(set(everything.tolist())) > 230 - batch * world_size  # only the tail dropped


def test_ranks_together_hold_the_single_process_batch(dataset):
    one = ShardedLoader(dataset, 24, 0, 1, seed=5)
    three = [ShardedLoader(dataset, 8, r, 3, seed=5) for r in range(3)]
    for loader in (one, *three):
        loader.set_epoch(2)
    for b, (x, y) in enumerate(one):
        parts = [list(loader)[b] for loader in three]
        together = torch.cat([p[0] for p in parts])
        assert sorted(_fingerprints(together)) == pytest.approx(sorted(_fingerprints(x)))
        assert sorted(torch.cat([p[1] for p in parts]).tolist()) == sorted(y.tolist())


def test_order_changes_per_epoch_and_repeats_for_the_same_epoch(dataset):
    loader = ShardedLoader(dataset, 8, 1, 2, seed=0)
    orders = []
    for epoch in (0, 1, 0):
        loader.set_epoch(epoch)
        orders.append(loader.indices().tolist())
    assert orders[0] != orders[1]
    assert orders[0] == orders[2]


def test_resumed_batches_equal_the_uninterrupted_ones(dataset):
    loader = ShardedLoader(dataset, 8, 0, 2, augment=True, shift=2, seed=1)
    loader.set_epoch(1)
    full = [x for x, _ in loader.batches(0)]
    resumed = [x for x, _ in loader.batches(3)]
    assert len(resumed) == len(full) - 3
    for a, b in zip(full[3:], resumed, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kwargs, word", [
    (dict(rank=2, world_size=2), "rank"), (dict(rank=0, world_size=0), "world_size"),
    (dict(rank=0, world_size=1, batch_size=1000), "global batch"),
])
def test_bad_sharding_arguments_are_named(dataset, kwargs, word):
    kwargs.setdefault("batch_size", 8)
    with pytest.raises(ValueError, match=word):
        ShardedLoader(dataset, **kwargs)


def test_set_epoch_rejects_negative(dataset):
    with pytest.raises(ValueError, match="epoch"):
        ShardedLoader(dataset, 8).set_epoch(-1)


def test_sync_bn_without_a_process_group_is_plain_batchnorm():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 4, 4) * 3 + 1
    ours, ref = SyncBatchNorm2d(3), nn.BatchNorm2d(3)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_a, out_b = ours(a), ref(b)
    (out_a * x).sum().backward()
    (out_b * x).sum().backward()
    assert torch.allclose(out_a, out_b, atol=1e-5)
    assert torch.allclose(a.grad, b.grad, atol=1e-4)
    assert torch.allclose(ours.running_var, ref.running_var, atol=1e-6)


def test_convert_replaces_every_batchnorm_and_keeps_its_state():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Sequential(BatchNorm2d(4)))
    with torch.no_grad():
        model[1].running_mean.fill_(0.5)
        model[2][0].weight.fill_(2.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted = convert_sync_batchnorm(model, "cpu")
    assert isinstance(converted[1], SyncBatchNorm2d) and isinstance(converted[2][0], SyncBatchNorm2d)
    assert max_state_diff(before, converted.state_dict()) == 0.0


def test_ring_allreduce_model():
    assert ring_allreduce_seconds(1, 1e9, 1e9, 1e-3) == 0.0
    # 2 workers: 2 hops of latency, each worker sends half the bytes twice = bytes / bandwidth
    assert ring_allreduce_seconds(2, 1e9, 1e9, 1e-3) == pytest.approx(1.0 + 2e-3)
    # many workers: the bandwidth term tends to 2 * bytes / bandwidth
    assert ring_allreduce_seconds(10_000, 1e9, 1e9, 0.0) == pytest.approx(2.0, rel=1e-3)
    assert step_seconds(4, 8.0, 0, 1e9, 0.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="bandwidth"):
        ring_allreduce_seconds(2, 1e6, 0.0, 1e-3)


def test_fit_recovers_latency_and_bandwidth():
    sizes = np.array([1e3, 1e4, 1e5, 1e6, 1e7])
    seconds = ring_allreduce_seconds(2, sizes, 2e9, 3e-5)
    latency, bandwidth = fit_allreduce(sizes, seconds, n=2)
    assert latency == pytest.approx(3e-5, rel=1e-6)
    assert bandwidth == pytest.approx(2e9, rel=1e-6)


def test_break_even_is_where_the_step_time_is_shortest():
    # latency only: t(N) = c / N + 2 (N - 1) a has its minimum at N = sqrt(c / (2 a))
    assert break_even_workers(compute=2.0, nbytes=0, bandwidth=1.0, latency=1e-4,
                              max_workers=1000) == 100


def test_threads_share_the_cores():
    assert threads_per_process(1, cores=2) == 2
    assert threads_per_process(2, cores=2) == 1
    assert threads_per_process(4, cores=2) == 1
    assert threads_per_process(2, cores=16) == 8


def test_threads_count_the_cores_this_process_may_use(monkeypatch):
    # a Slurm job given 4 CPUs of a 64-core node: 2 workers get 2 threads each, not 32
    monkeypatch.setattr(group.os, "sched_getaffinity", lambda pid: {4, 5, 6, 7}, raising=False)
    monkeypatch.setattr(group.os, "cpu_count", lambda: 64)
    assert group.usable_cores() == 4
    assert threads_per_process(2) == 2
    monkeypatch.delattr(group.os, "sched_getaffinity", raising=False)   # macOS, Windows
    assert group.usable_cores() == 64


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs util-linux's taskset")
def test_usable_cores_follows_the_real_affinity():
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c",
                          "from cnnedu.distributed.group import usable_cores; print(usable_cores())"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "1"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="nproc"):
        torchrun_command(["train"], nproc=0)
    with pytest.raises(ValueError, match="model"):
        TrainConfig(model="vgg").check()


def test_allreduce_bench_fits_on_the_best_run_and_keeps_the_median(tmp_path, monkeypatch):
    import json

    import torch.distributed as dist

    from cnnedu.distributed.demo import allreduce_bench
    from cnnedu.distributed.worker import Context

    # a fake clock: the five runs of each size take 5, 1, 3, 2, 4 ms
    durations = [0.005, 0.001, 0.003, 0.002, 0.004] * 2
    ticks = iter(t for d in durations for t in (0.0, d))
    monkeypatch.setattr("cnnedu.distributed.demo.time.perf_counter", lambda: next(ticks))
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        result = allreduce_bench(Context(), str(tmp_path / "bench.json"), repeats=5,
                                 sizes_kib=(1, 64))
    finally:
        dist.destroy_process_group()
    rows = result["rows"]
    assert [r["bytes"] for r in rows] == [1024, 64 * 1024]
    assert all(r["seconds"] == 0.001 and r["median_seconds"] == 0.003 for r in rows)
    assert json.loads((tmp_path / "bench.json").read_text())["rows"] == rows


def test_sync_bn_in_its_synchronised_path_stores_the_unbiased_running_variance(monkeypatch):
    """Fast check of the all-reduce path with one rank: all_reduce over a single rank is the
    identity, so SyncBatchNorm2d must then agree with nn.BatchNorm2d, whose running variance
    is the unbiased one (n / (n - 1) times the batch variance)."""
    import cnnedu.distributed.syncbn as syncbn

    monkeypatch.setattr(syncbn, "_distributed", lambda: True)
    monkeypatch.setattr(syncbn.dist, "all_reduce", lambda tensor, op=None: None)
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 2) * 3 + 1          # 16 values per channel: n/(n-1) = 16/15
    ours, ref = SyncBatchNorm2d(3, momentum=None), nn.BatchNorm2d(3, momentum=None)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.testing.assert_close(ours(a), ref(b))
    torch.testing.assert_close(ours.running_var, x.var(dim=(0, 2, 3), unbiased=True))
    torch.testing.assert_close(ours.running_var, ref.running_var)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    assert int(ours.num_batches_tracked) == 1


def test_augmentation_draws_anew_for_every_batch_epoch_and_rank(dataset):
    """Which images get mirrored must change from batch to batch (a generator seeded with the
    same number every batch would mirror the same positions every time)."""
    def flips(loader, epoch):
        loader.set_epoch(epoch)
        plain = ShardedLoader(dataset, 16, loader.rank, 2, augment=False, seed=0)
        plain.set_epoch(epoch)
        return [tuple((x != p).flatten(1).any(1).tolist())
                for (x, _), (p, _) in zip(loader.batches(), plain.batches(), strict=True)]

    rank0, rank1 = (ShardedLoader(dataset, 16, r, 2, augment=True, seed=0) for r in (0, 1))
    first = flips(rank0, 0)
    assert len(set(first)) > 1
    assert first != flips(rank0, 1) and first != flips(rank1, 0)
    assert first == flips(ShardedLoader(dataset, 16, 0, 2, augment=True, seed=0), 0)
