# %% [markdown]
# # 06 · Scale-out: the lesson's ResNet trained data-parallel, proven equal, killed, and measured
#
# ResNet's ImageNet recipe uses a batch of 256 (He et al. 2016), usually run as 8 GPUs with 32
# images each (the baseline of Goyal et al. 2017), and every large CNN since is trained
# *data-parallel*: many copies of one model, each on its own slice of every batch. This lesson
# takes that step with PyTorch's own engine (`torch.distributed`, `DistributedDataParallel`,
# `torchrun`), on this 2-core CPU with the gloo backend; the same code runs unchanged on GPUs
# with NCCL. You will
#
# 1. average gradients across processes by hand, then let DDP do it;
# 2. prove that N processes with B/N images each train exactly like one process with B, and
#    see what BatchNorm does to that (lesson 03), and how synchronised BatchNorm fixes it;
# 3. kill a worker mid-run and watch the run come back from its checkpoint with nothing lost;
# 4. measure where a data-parallel step spends its time here;
# 5. check a ring all-reduce model against this machine, then predict with it and assumed link
#    speeds how far adding workers pays, up to 256 workers;
# 6. run the same job as two *machines* (two torchrun agents), with the commands for a cluster.

# %%
import os
import tempfile
from pathlib import Path

try:
    from cnnedu import config
except ModuleNotFoundError as err:   # say how to install the course, not only what is missing
    raise ModuleNotFoundError(
        f"{err}. This lesson needs the course's package, cnnedu, in this kernel's Python. In a "
        "clone of the course: ./course.sh lab. Elsewhere, in a cell: %pip install followed by "
        "the cnnedu wheel or folder you were given; then Kernel > Restart Kernel.") from None
from cnnedu.data import data_note

QUICK = None   # True: quick mode (each training cut to a few batches); None: CNNEDU_QUICK decides
QUICK = config.quick_mode(QUICK)
SEED = config.seed_everything(0)
WORK = Path(tempfile.mkdtemp(prefix="cnnedu_06_"))     # checkpoints and results of the runs
TRAIN_LIMIT = 1024 if QUICK else 8192                  # images the runs draw their batches from
STEPS = 3 if QUICK else 20                             # steps per epoch in the timed runs
print("quick mode" if QUICK else "full mode", "| cores:", os.cpu_count(), "| runs write to", WORK)
print(data_note())

# %% [markdown]
# ## 1. Data parallelism in one picture
#
# ```
#            one global batch of B images, split into N shards
#     ┌───────────────┬───────────────┐
#     │ rank 0: B/2   │ rank 1: B/2   │     each rank: the same model (a replica)
#     │ forward       │ forward       │                its own shard of the data
#     │ backward      │ backward      │                its own gradient g_r
#     └──────┬────────┴──────┬────────┘
#            └── all-reduce: g = (g_0 + g_1) / 2 ──┘  every rank gets the same average
#     optimiser step on every rank with g  ->  the replicas stay identical
# ```
#
# The mean loss over B images is the mean of the N shard means (equal shards), so the averaged
# gradient *is* the gradient over the whole batch. Written out, data parallelism is one loop
# after `backward()` (from `cnnedu.distributed.demo.by_hand`):
#
# ```python
# for p in model.parameters():
#     dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)   # every rank gets the sum ...
#     p.grad /= world_size                            # ... and divides: the average
# ```
#
# Processes are started by **torchrun**, which gives each one its `RANK` and `WORLD_SIZE` and a
# place to meet. From a notebook we start torchrun in a subprocess and stream its output here:
# a function defined in a notebook cannot be sent to other processes (`mp.spawn` must pickle
# it, and a fresh process cannot find the kernel's `__main__`), so the code each rank runs lives
# in the package, as it would on a cluster. Two processes, 8 samples, a linear model:

# %%
from cnnedu.distributed import launch

run = launch(["by-hand"], nproc=2)

# %%
# NBVAL_CHECK_OUTPUT
gaps = run.numbers(r"max \|by hand - (.+?)\|\s+= (\S+)$")
print("by hand equals", " and ".join(gaps), "within 1e-6:", all(v <= 1e-6 for v in gaps.values()))

# %% [markdown]
# Each rank saw only its 4 samples and got a different local gradient; after the all-reduce
# both hold the same average, equal (to float rounding) to the gradient of one process over
# all 8 samples. `DistributedDataParallel` gives the same numbers: it does this all-reduce
# for you during `backward()`, in buckets of gradients, overlapped with the rest of backward.

# %% [markdown]
# ## 2. N processes with B/N each = one process with B
#
# The training entry point `python -m cnnedu.distributed train` (what torchrun starts on every
# rank, `cnnedu/distributed/worker.py`) trains the lesson's ResNet with DDP; each rank reads
# its own shard of every epoch's order (`ShardedLoader`, like `DistributedSampler`), and
# the shards of batch *b* together are exactly batch *b* of one process with the global batch.
#
# First without BatchNorm (the lesson ResNet with BN removed): 2 processes × 32 images against
# one process × 64 images, 5 SGD steps. The one-process run happens right here in the kernel.

# %%
import torch

from cnnedu.distributed.worker import TrainConfig, max_state_diff, read_result, train

EQUAL = ["--global-batch", "64", "--max-steps-per-epoch", "5", "--no-augment",
         "--scheduler", "constant", "--train-limit", str(TRAIN_LIMIT), "--log-every", "0"]
SAME = dict(global_batch=64, max_steps_per_epoch=5, augment=False, scheduler="constant",
            train_limit=TRAIN_LIMIT, log_every=0)

launch(["train", "--model", "resnet-nobn", "--lr", "0.02", *EQUAL, "--out", WORK / "nobn"])
one_nobn = train(TrainConfig(model="resnet-nobn", lr=0.02, **SAME))["state"]
diff_nobn = max_state_diff(read_result(WORK / "nobn")["state"], one_nobn)
print(f"max |weights(2 processes) - weights(1 process)| after 5 steps: {diff_nobn:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("the launch ran 2 processes:", read_result(WORK / "nobn")["world_size"] == 2)
print("equal within 1e-5:", diff_nobn <= 1e-5)

# %% [markdown]
# ### With BatchNorm they are *not* the same computation
# Lesson 03: in training mode BatchNorm normalises each channel with the mean and variance of
# **the batch it sees**. Under DDP each rank's BatchNorm sees only its own 32 images, so it
# normalises with different statistics than one process over all 64, and gradients, weights and
# running statistics all move apart. The cure is *synchronised* BatchNorm: every rank computes
# the statistics of the global batch. PyTorch's `nn.SyncBatchNorm` refuses CPU modules
# ("SyncBatchNorm layers only work with GPU modules"), so on the CPU `--sync-bn` uses
# `cnnedu.distributed.SyncBatchNorm2d`: lesson 03's from-scratch `BatchNorm2d`, plus
# `all_reduce`s of the per-channel sum and count (the global mean) and of the sum of squares
# about that mean (the global variance). Its backward is correct because the all-reduce is an
# autograd function whose backward is again an all-reduce of the gradients. The forward:

# %%
import inspect

from cnnedu.distributed.syncbn import SyncBatchNorm2d

print(inspect.getsource(SyncBatchNorm2d.forward))

# %% [markdown]
# The layer alone, 2 ranks against `nn.BatchNorm2d` over the concatenated batch, 3 steps:
# outputs, gradients and running statistics agree to float32 rounding:

# %%
bn_check = launch(["bn-check"], nproc=2)

# %%
# NBVAL_CHECK_OUTPUT
gaps = bn_check.numbers(r"one process\|, (.+?)\s*: (\S+)$")
print(", ".join(gaps), "all within 1e-4:", all(v <= 1e-4 for v in gaps.values()))

# %% [markdown]
# Now the lesson's ResNet with its 9 BatchNorm layers. One caution first: training this
# BatchNorm network amplified float32 rounding quickly. The *same* single-process run on 1 thread and on
# 2 threads (which only changes the order of some sums):

# %%
torch_threads = torch.get_num_threads()
runs = {}
for threads in (1, 2):
    torch.set_num_threads(threads)
    runs[threads] = train(TrainConfig(model="resnet", lr=0.05, **SAME))["state"]
torch.set_num_threads(torch_threads)
print(f"1 vs 2 threads, one process, float32, 5 steps: max |diff| {max_state_diff(runs[1], runs[2]):.1e}")

# %% [markdown]
# That would hide the real question, *is it the same computation?*, so the next three runs
# use float64: two processes with per-process BatchNorm, two with synchronised BatchNorm, and
# one process with `nn.BatchNorm2d` over the global batch.

# %%
launch(["train", "--model", "resnet", "--lr", "0.05", "--float64", *EQUAL,
        "--out", WORK / "bn_local"], echo=False)
launch(["train", "--model", "resnet", "--lr", "0.05", "--float64", "--sync-bn", *EQUAL,
        "--out", WORK / "bn_sync"], echo=False)
one_bn = train(TrainConfig(model="resnet", lr=0.05, float64=True, **SAME))["state"]

local, synced = read_result(WORK / "bn_local")["state"], read_result(WORK / "bn_sync")["state"]
running = [k for k in one_bn if k.endswith(("running_mean", "running_var"))]
for name, state in (("per-process BN", local), ("synchronised BN", synced)):
    weights = max_state_diff(state, one_bn, buffers=False)
    stats = max(float((state[k] - one_bn[k]).abs().max()) for k in running)
    print(f"{name:16}: max |diff| weights {weights:.1e}, running statistics {stats:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("per-process BN differs by more than 1e-4:", max_state_diff(local, one_bn) > 1e-4)
print("synchronised BN equal within 1e-9:       ", max_state_diff(synced, one_bn) <= 1e-9)

# %% [markdown]
# So per-process BatchNorm trains a *different* model (a batch of 32 per rank, whatever the
# global batch): usually harmless when each rank has a decent batch (it is DDP's default, and
# the usual 8-GPU run of ResNet's recipe computes BN over each GPU's 32 images), harmful when per-rank batches get
# small. Synchronised BatchNorm restores exact equality, running statistics included, at the
# price of two extra small all-reduces per BatchNorm layer in forward and two in backward (in
# this implementation; PyTorch's `nn.SyncBatchNorm` uses one all-gather forward and one
# all-reduce backward).

# %% [markdown]
# ## 3. A worker dies
# Long runs lose workers (a preempted machine, a driver error). torchrun restarts the whole
# group (`--max-restarts=1`), and the run goes on from its last checkpoint, written by rank 0
# only (all ranks hold the same weights), atomically (a temporary file renamed into place, so a
# crash mid-write never leaves half a file) and complete: model, optimiser (momentum),
# learning-rate schedule, step and RNG state. The data order is a function of (seed, epoch),
# so the resumed run reads exactly the batches it would have read.
#
# First the run as it should go: the lesson recipe (augmentation, one-cycle schedule), 2
# processes, 2 epochs of `STEPS` steps:

# %%
RECIPE = ["--global-batch", "128", "--epochs", "2", "--max-steps-per-epoch", str(STEPS),
          "--train-limit", str(TRAIN_LIMIT), "--log-every", "5"]
launch(["train", *RECIPE, "--out", WORK / "clean"], nproc=2);

# %% [markdown]
# Now the same run with the fault switch: `CNNEDU_FAULT_STEP` makes rank 1 exit (status 1) just
# before that step, once (only in torchrun's first attempt). The log of what happened:

# %%
fault_step = STEPS + STEPS // 2 + 1
faulty = launch(["train", *RECIPE, "--out", WORK / "faulty", "--checkpoint", WORK / "ckpt.pt",
                 "--checkpoint-every", "2"], nproc=2, max_restarts=1,
                env={"CNNEDU_FAULT_STEP": str(fault_step)}, echo=False)
for line in faulty.grep(r"fault switch|failed \(exitcode|closing signal|resumed|checkpoint at"):
    print(line[line.find("] ") + 2:] if "api.py" in line else line)

# %%
clean, resumed = read_result(WORK / "clean"), read_result(WORK / "faulty")
print(f"max |final weights (killed and resumed) - final weights (clean)|: "
      f"{max_state_diff(resumed['state'], clean['state']):.1e}")

# %%
# NBVAL_CHECK_OUTPUT
last_checkpoint = fault_step - fault_step % 2          # checkpoints every 2 steps
print("rank 1 exited on the fault switch at its step:",
      bool(faulty.grep(rf"fault switch: exiting at step {fault_step}$")))
print("torchrun restarted the group once:", resumed["restart_count"] == 1)
print("the restart resumed from the last checkpoint before it:",
      bool(faulty.grep(rf"resumed from .* at step {last_checkpoint} ")))
print("same final weights, buffers included:", max_state_diff(resumed["state"], clean["state"]) == 0)

# %% [markdown]
# Bit for bit the same. Reading the log's two ways of counting: "checkpoint at step 30" counts
# finished steps (written after 30 of them); "exiting at step 31" is the 0-based index of the
# step about to run, so rank 1 died just before its 32nd step of 40, one finished step after
# that checkpoint. The restarted run resumed from the checkpoint, did that 31st step again, and
# went on: the steps finished since the last checkpoint were simply done again.
# Two things make that true, and both are easy to get wrong: a barrier after each checkpoint
# (no rank may run ahead, or die, before the file is on disk), and the data order derived from
# (seed, epoch) rather than from a generator that a restart would reset.

# %% [markdown]
# ## 4. Scaling, measured: 1 process vs 2 on this machine
# The clean run above timed every step, and inside it the gradient all-reduce (a DDP
# communication hook that waits for each bucket's all-reduce, so compute and communication can
# be told apart; DDP's own hook overlaps them). For a fair comparison the one-process run is
# launched the same way, as a torchrun job of one rank with the same global batch of 128 and
# the same steps (timing it in this kernel instead would compare a fresh process with a
# long-lived one that has plotted, trained and allocated all lesson long). Threads: torchrun
# sets `OMP_NUM_THREADS=1` for each of several workers; cnnedu shares the cores evenly, so 1
# process gets 2 threads and 2 processes get 1 each: both runs use the same 2 cores.

# %%
import numpy as np

launch(["train", *RECIPE, "--log-every", "0", "--out", WORK / "single"], nproc=1);
single = read_result(WORK / "single")


def split(result: dict, skip: int = 2) -> tuple[float, float]:
    """Median step time and all-reduce time (s), skipping the first (warm-up) steps."""
    steps = np.array(result["step_seconds"][skip:])
    comm = np.array(result["comm_seconds"][skip:])
    return float(np.median(steps)), float(np.median(comm))


rows = {"1 process x 2 threads": split(single), "2 processes x 1 thread": split(clean)}
for name, (step, comm) in rows.items():
    print(f"{name}: {step * 1e3:6.1f} ms/step = compute {(step - comm) * 1e3:6.1f} ms + "
          f"all-reduce {comm * 1e3:5.1f} ms | {128 / step:5.0f} images/s")
print(f"speed-up with 2 processes: {rows['1 process x 2 threads'][0] / rows['2 processes x 1 thread'][0]:.2f}x")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 2.2))
names = list(rows)
compute = [1e3 * (step - comm) for step, comm in rows.values()]
comm = [1e3 * c for _, c in rows.values()]
ax.barh(names, compute, label="compute (forward, backward, step)")
ax.barh(names, comm, left=compute, label="gradient all-reduce")
ax.set(xlabel="ms per step (global batch 128)")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# What to expect on 2 cores: one process already uses both cores with 2 threads, so 2
# processes bring no new arithmetic; they split the same compute and *add* the all-reduce (and
# a second copy of the framework's per-step overhead). The printed ratio says what happened
# here, and it can land on either side of 1. The bars show where a difference sits: in the
# compute, or in the all-reduce. Where the compute is shorter with 2 processes, a likely cause
# (not measured here) is that one process splits each small layer between its 2 threads and
# synchronises them at every layer, which two single-thread processes do not; where it is
# longer, the two processes compete for the same cores and memory. Runs on shared cores differ
# by more than a few per cent (the figures are medians over the timed steps, and repeated quiet
# runs of this cell have landed on both sides of 1), and with other work on the same cores one
# run can be starved more than the other. (The one-process run also shows a small all-reduce time: a one-rank torchrun job still
# runs the gloo hook, which then only copies the gradients.) Data parallelism pays when each worker
# brings its own compute (its own GPU, its own machine), and the question becomes how much the
# all-reduce costs next to the compute. That we can measure and model.

# %% [markdown]
# ## 5. Scaling, predicted
# With a fixed global batch split over N workers, one step takes
#
# $$t(N) = \frac{t_\text{compute}}{N} + 2(N-1)\,\alpha + \frac{2(N-1)}{N}\cdot\frac{\text{gradient bytes}}{\beta}$$
#
# The last two terms are a **ring all-reduce** (one of the algorithms NCCL and gloo use, the
# usual one for large messages; NCCL also picks tree algorithms by size and topology): a
# reduce-scatter then an all-gather, 2(N−1) hops, each moving 1/N of the gradients and paying a
# latency α; β is the link bandwidth. The bandwidth term hardly grows with N (it tends to
# 2 × bytes / β), while compute/N keeps shrinking. First, α and β of gloo on this machine,
# fitted to all-reduces of 1 KiB to 16 MiB between 2 processes. Each size runs 20 times and the
# fit uses the best time: rank 0's clock also counts the wait until rank 1 reaches the call,
# and with two processes sharing two cores that wait (a scheduler time slice) can be larger
# than a small message's whole cost; the grey medians show how much it adds.

# %%
import json

from cnnedu.distributed import scaling

launch(["allreduce-bench", "--out", WORK / "allreduce.json"], nproc=2, echo=False)
bench = json.loads((WORK / "allreduce.json").read_text())["rows"]
sizes = np.array([r["bytes"] for r in bench], float)
seconds = np.array([r["seconds"] for r in bench])
alpha, beta = scaling.fit_allreduce(sizes, seconds, n=2)
print(f"fitted: latency α = {alpha * 1e6:.0f} µs per hop, bandwidth β = {beta / 1e9:.2f} GB/s")

fig, ax = plt.subplots(figsize=(5, 3))
medians = np.array([r["median_seconds"] for r in bench])
ax.loglog(sizes, medians * 1e3, ".", color="grey", label="median of 20 (with scheduling skew)")
ax.loglog(sizes, seconds * 1e3, "o", label="best of 20 (fitted)")
ax.loglog(sizes, scaling.ring_allreduce_seconds(2, sizes, beta, alpha) * 1e3, "-", label="fitted model")
ax.set(xlabel="bytes all-reduced", ylabel="ms", title="all-reduce, 2 processes, gloo")
ax.legend()
plt.show()

# %% [markdown]
# **Check the model before trusting it.** The model has two terms, and this machine can check
# only one of them. The all-reduce term can: the training run of section 4 timed the
# all-reduce inside every step (2 processes, the lesson ResNet's gradients), and the fitted α
# and β predict that time. The compute term, compute / N, assumes each worker brings its own
# cores; here both processes share the same two, so it cannot be checked on this machine and
# stays an **assumption** (it roughly holds for GPUs, one per worker, while each keeps a large
# enough batch). The check, printed:

# %%
grad_bytes = clean["grad_bytes"]
t_compute = rows["1 process x 2 threads"][0]
measured_comm = rows["2 processes x 1 thread"][1]
predicted_comm = float(scaling.ring_allreduce_seconds(2, grad_bytes, beta, alpha))
comm_ok, comm_check = scaling.check_prediction(
    predicted_comm, measured_comm, "all-reduce of the lesson ResNet's gradients, 2 processes")
print(f"lesson ResNet: {grad_bytes / 1e6:.2f} MB of float32 gradients per step")
print(comm_check)
whole = scaling.step_seconds(2, t_compute, grad_bytes, beta, alpha)
print(f"whole step, for comparison (compute / 2 is the unchecked assumption): predicted "
      f"{whole * 1e3:.1f} ms, measured {rows['2 processes x 1 thread'][0] * 1e3:.1f} ms")

# %% [markdown]
# Read the check's verdict above before going on. If it says *validated*, the fitted
# all-reduce model reproduces the communication this machine measured, and the predictions
# below rest on it plus the stated assumptions; if it says *NOT validated*, they show only how
# the model's terms trade off, not what this machine's links would do. A likely reason for a
# *NOT validated* here: the fit uses the best of 20 all-reduces of each size (to remove the
# scheduler's noise), while the all-reduce timed inside a training step also waits for the
# slower rank and pays the hook's own overhead (the one-process run shows that overhead alone).
# The whole-step line shows what the unchecked compute / 2 assumption does on shared cores.
#
# **Assumptions of every prediction below** (round, assumed link figures: 25 Gbit Ethernet
# 3.1 GB/s and 20 µs per hop, PCIe 4.0 x16 25 GB/s and 5 µs, NVLink on an H100 450 GB/s and
# 3 µs): each worker has its own compute; one ring all-reduce over all workers, not
# overlapped with compute; and **at least 32 images per worker** (Goyal et al.'s per-GPU
# batch: below it BatchNorm's statistics and per-step overheads change, and compute / N stops
# holding), so each curve stops at global batch / 32 workers. For ResNet-50 the compute rate
# is taken from a measured end-to-end hour that already included its (overlapped)
# communication, so adding the ring on top makes its predictions pessimistic. Two models:
#
# * the lesson's ResNet, 0.3 MB of gradients, with this CPU's compute per global batch of 128
#   (so at most 4 workers);
# * ResNet-50 (25.6 M parameters, about 102 MB of gradients), at the rate of Goyal et al. 2017:
#   ImageNet (1.28 M images) for 90 epochs in one hour on 256 GPUs, about 125 images/s per GPU,
#   with a global batch of 8,192 (so at most 256 workers, theirs).

# %%
from cnnedu.models.resnet import resnet50

resnet50_bytes = sum(p.numel() for p in resnet50().parameters()) * 4
images_per_gpu_second = 1_281_167 * 90 / 3600 / 256
resnet50_compute = 8192 / images_per_gpu_second      # one worker doing the whole 8,192 batch
print(f"ResNet-50: {resnet50_bytes / 1e6:.1f} MB of gradients; "
      f"{images_per_gpu_second:.0f} images/s per GPU -> {resnet50_compute:.0f} s per step on one")
models = {"lesson ResNet": (t_compute, grad_bytes, 128),
          "ResNet-50": (resnet50_compute, resnet50_bytes, 8192)}

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, (name, (compute_s, nbytes, batch)) in zip(axes, models.items(), strict=True):
    scaling.plot_speedup(ax, compute_s, nbytes, f"{name}, global batch {batch:,}",
                         max_workers=scaling.largest_worker_count(batch))
plt.tight_layout()
plt.show()

# %% [markdown]
# Where adding workers stops paying within those limits: the N with the shortest predicted
# step (beyond it, each extra worker makes every step *slower*), or the limit of 32 images
# per worker if that comes first, and the parallel efficiency there (speed-up / N):

# %%
for model_name, (compute_s, nbytes, batch) in models.items():
    limit = scaling.largest_worker_count(batch)
    for link, (bandwidth, latency) in scaling.NETWORKS.items():
        best = scaling.break_even_workers(compute_s, nbytes, bandwidth, latency, max_workers=limit)
        speedup = compute_s / scaling.step_seconds(best, compute_s, nbytes, bandwidth, latency)
        capped = " (the 32-images-per-worker limit)" if best == limit else ""
        print(f"{model_name:13} on {link:14}: best N = {best:>4,}, {speedup:,.1f}x faster "
              f"than 1 worker, efficiency {speedup / best:.0%}{capped}")

# %% [markdown]
# Read the two plots together with this table. Setting the derivative of t(N) to zero gives
# the fastest N: N² = (t_compute − 2·bytes/β) / (2α), close to √(t_compute / 2α) whenever the
# compute dwarfs one transfer of the gradients. Within 32 images per worker that point is
# never reached here: the batch runs out first (the table says which limit applied). The
# bandwidth term hardly moves with N but adds a fixed cost to every step, so it decides how
# *efficient* a split is: the lesson's ResNet moves 0.3 MB, while ResNet-50's 102 MB cost a
# large share of each step on 25 GbE and little on NVLink (compare the efficiencies).
#
# Goyal et al. did not split a fixed batch: they grew the batch with the workers, 32 images
# each (*weak scaling*), so every worker's compute stays the same and only the all-reduce
# grows. The model's prediction for that, ResNet-50 up to their 256 GPUs:

# %%
compute_32 = scaling.GOYAL_IMAGES_PER_WORKER / images_per_gpu_second
print(f"one worker's step: {compute_32:.3f} s of compute for 32 images")
for link, (bandwidth, latency) in scaling.NETWORKS.items():
    gain = scaling.weak_scaling_speedup(np.array([8, 64, 256]), compute_32, resnet50_bytes,
                                        bandwidth, latency)
    print(f"ResNet-50, 32 images per worker, {link:14}: images/s over 1 worker at N = 8, 64, "
          f"256: {', '.join(f'{g:.0f}x' for g in gain)} (efficiency at 256: {gain[-1] / 256:.0%})")

# %% [markdown]
# With each worker's compute fixed (the printed step time for 32 images), the all-reduce of
# 102 MB is the only cost that grows with N. Its bandwidth term stops growing, but its latency
# term 2(N−1)α grows with every worker, so beyond 256 the model's efficiency keeps falling,
# slowly on fast links and faster on slow ones.
# Compare the links: the slower the link, the larger the share of each step spent waiting.
# Real clusters of that size overlap the all-reduce with the backward pass and use
# hierarchical all-reduces, so they can do better than this ring without overlap. And a ring
# of 256 GPUs crosses machines: the PCIe and NVLink rows at that size are hypothetical
# single-fabric rings, since between 8-GPU servers the network, not NVLink, sets the bandwidth
# (Goyal et al. used 8-GPU servers joined by 50 Gbit Ethernet). The model stops at 256
# workers, where Goyal et al.'s one-hour run was.
#
# **Goyal et al. 2017** ("Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour") trained
# ResNet-50 on 256 GPUs with a global batch of 8,192 (32 per GPU) to the accuracy of the usual
# batch of 256. Note what they scaled: not a fixed batch over more workers (the plot above),
# but the *batch with the workers*, 32 images each, so compute per worker stays constant. (At
# 256 workers the two coincide: the plot's fixed batch of 8,192 is then 32 images per worker,
# which is why the two printed speed-ups agree there; below 256 they differ.) The all-reduce
# then takes a share of each step that depends on the link: small on fast links, and on
# 25 Gbit Ethernet about the share the printed efficiency leaves out. That only helps if a large batch trains as
# well as a small one, which is what their recipe achieved:
#
# * **linear scaling rule**: when the batch grows k times, multiply the learning rate by k
#   (0.1 × 8192/256 = 3.2). k small-batch SGD steps move the weights by roughly the sum of k
#   gradients; one large-batch step averages those k gradients, so it needs k times the
#   learning rate to move as far;
# * **gradual warm-up**: start at the small-batch rate and ramp up linearly over the first 5
#   epochs, because early in training the gradients change too fast for one big step to stand
#   in for k small ones (the lesson recipes' one-cycle schedule also starts with a warm-up).
#
# The rule breaks down beyond about 8k images per batch for ResNet-50 in their experiments.

# %% [markdown]
# ## 6. Across machines: the same engine, one torchrun agent per machine
# Everything above ran one torchrun on one machine (`--standalone`). On several machines, each
# runs its own torchrun *agent*, and the agents meet at a **rendezvous**: a `host:port` on one
# of them (the `c10d` backend keeps a small key-value store there). The rendezvous hands out the
# node ranks, so every machine runs *the same command*; torchrun then starts
# `--nproc-per-node` workers on each, with global ranks and `WORLD_SIZE` = nodes × processes.
#
# **Two machines** `node1` and `node2` (same code and data on both, able to reach each other
# on any TCP port: the rendezvous uses port `29500` of `node1`, and gloo and NCCL then open
# connections between the ranks on other ports, in both directions), on each of them:
#
# ```bash
# torchrun --nnodes=2 --nproc-per-node=1 --rdzv-backend=c10d --rdzv-endpoint=node1:29500 \
#          --rdzv-id=resnet-run-1 -m cnnedu.distributed train --epochs 1 --out results
# ```
#
# With GPUs, `--nproc-per-node` = GPUs per machine (the worker then picks NCCL; under Slurm, below,
# also ask for them with `#SBATCH --gpus-per-node`). If a machine
# has several network interfaces, name the one to use: `GLOO_SOCKET_IFNAME=eth0` (or
# `NCCL_SOCKET_IFNAME`). A `--checkpoint` file must be on a file system all machines share:
# rank 0 writes it, and after a restart every rank reads it.
#
# **Slurm** starts one task per node with `srun`, and that task is torchrun; the first host of
# the allocation is the rendezvous (`sbatch job.sh`). Recent Slurm versions' `srun` does not
# take `--cpus-per-task` from the job by itself, so the script passes it on; the workers then share
# the CPUs Slurm gave them (`threads_per_process` counts the cores this process may use, not
# the machine's):
#
# ```bash
# #!/bin/bash
# #SBATCH --nodes=2
# #SBATCH --ntasks-per-node=1
# #SBATCH --cpus-per-task=16
# RDZV_HOST=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
# srun --cpus-per-task="$SLURM_CPUS_PER_TASK" \
#      torchrun --nnodes="$SLURM_NNODES" --nproc-per-node=1 --rdzv-backend=c10d \
#      --rdzv-endpoint="$RDZV_HOST:29500" --rdzv-id="$SLURM_JOB_ID" \
#      -m cnnedu.distributed train --epochs 1 --out results
# ```
#
# Without a second machine we can still run the multi-node path: two agents on this machine,
# each told `--nnodes=2` and meeting at `localhost:<a free port>` (`launch_nodes` starts them
# and prefixes each line with the agent it came from). Section 2's job again (no BatchNorm,
# 2 × 32 images, 5 steps), now as two "nodes" of one process each, against its one-node run:

# %%
from cnnedu.distributed import launch_nodes

nodes = launch_nodes(["train", "--model", "resnet-nobn", "--lr", "0.02", *EQUAL,
                      "--out", WORK / "two_nodes"], nnodes=2, nproc=1)
print("each agent ran:", " ".join(nodes.command[3:9]), "...")
diff_nodes = max_state_diff(read_result(WORK / "two_nodes")["state"],
                            read_result(WORK / "nobn")["state"])
print(f"max |weights(2 nodes x 1 process) - weights(1 node x 2 processes)|: {diff_nodes:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("both agents joined one group of 2:", read_result(WORK / "two_nodes")["world_size"] == 2)
print("equal within 1e-6:", diff_nodes <= 1e-6)

# %% [markdown]
# The training code did not change: a rank cannot tell whether its peer is another process on
# this machine or a process on another machine; only the address it meets at differs. What
# differs on real machines is the link (section 5's α and β): a real network instead of this
# machine's loopback TCP, which is what gloo used here.

# %% [markdown]
# ## Exercises
# ### Exercise 06.1 (code): average the gradients yourself
# Section 1 showed the step that DDP runs for you after `backward()`: every rank's gradients are
# replaced by their mean over all ranks, so every replica takes the same optimiser step. Write
# it yourself, without looking back: `average_gradients(model, world_size)` with
# `torch.distributed.all_reduce`, which by default *sums* a tensor over all ranks, **in place**.
# Skip parameters whose `.grad` is `None` (not used this step). The check runs your function on
# 1 to 3 ranks played by threads of this process, each with its own batch (`all_reduce` is
# simulated for the check: no network, no processes), and compares every rank's gradients with
# their mean. `solution("06.1")` shows a reference solution.

# %%
# EXERCISE 06.1
import torch.distributed as dist  # noqa: F401 (for your code)


def average_gradients(model, world_size):
    """Replace every parameter's .grad by its mean over the world_size ranks."""
    raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check_code, solution  # noqa: F401 (solution: yours to call)

check_code("06.1", average_gradients);

# %% [markdown]
# ### Exercise 06.2
# How many bytes does each step all-reduce for the lesson's ResNet (`get_recipe("resnet")`),
# with float32 gradients, one per parameter?

# %%
# EXERCISE 06.2
answer_1 = None   # an int

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check
from cnnedu.recipes import get_recipe

check(answer_1, sum(p.numel() for p in get_recipe("resnet").build().parameters()) * 4,
      exercise="06.2",
      hint=["each parameter has one gradient value, and a float32 takes 4 bytes.",
            "sum(p.numel() for p in model.parameters()) counts a model's parameters."]);

# %% [markdown]
# ### Exercise 06.3
# The lesson recipe trains on one worker with a batch of 128 at a peak learning rate of 0.2.
# You move to 8 workers, each keeping 128 images per step. By the linear scaling rule, what are
# the global batch and the peak learning rate? Answer as a tuple `(global_batch, lr)`.

# %%
# EXERCISE 06.3
answer_2 = None   # a tuple (int, float)

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check
from cnnedu.recipes import get_recipe

recipe = get_recipe("resnet")
check(answer_2, (8 * recipe.batch_size, recipe.lr * 8), exercise="06.3",
      hint=["the global batch is what all workers process together in one step.",
            "the linear scaling rule ties the learning rate to the global batch size."]);

# %% [markdown]
# ### Figures quoted from the literature
# The numbers this lesson quotes from papers (no cell of ours can measure them), each with its
# source:

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.facts import show_facts

show_facts("06")

# %% [markdown]
# ## Summary
# * Data parallelism = replicas + shards + an all-reduce of gradients; DDP does that all-reduce
#   during backward.
# * Without BatchNorm, 2 processes × 32 images equal 1 process × 64 to float rounding. With
#   per-process BatchNorm they train a different model; synchronised BatchNorm (from scratch
#   on the CPU, `nn.SyncBatchNorm` on CUDA) makes them equal again, running statistics included.
# * A killed worker costs only the steps since the last checkpoint: the resumed run ends with
#   the same weights, bit for bit.
# * On 2 cores, 2 processes bring no new arithmetic (their step time can still differ from one
#   process's, either way: the printed ratio). The ring all-reduce model, fitted here, was
#   checked against the all-reduce time measured inside the training steps (the printed check
#   says whether it held; where it did not, the predictions show how the terms trade off, not
#   what real links would do); its compute / N term is an assumption this machine cannot
#   check.
#   Its predictions stop at 32 images per worker. Growing the batch with the workers
#   (linear scaling rule + warm-up) is what made 256 GPUs pay for ResNet-50.
# * Across machines the code is the same: one torchrun agent per machine, meeting at a c10d
#   rendezvous (`--nnodes`, `--rdzv-endpoint`; under Slurm, `srun torchrun ...`); two agents on
#   this machine gave the one-node run's weights.
