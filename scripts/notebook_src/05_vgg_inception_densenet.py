# %% [markdown]
# # 05 · VGG, Inception, DenseNet: the families measured side by side
#
# Between AlexNet (2012) and ResNet (2015) came VGG and Inception (both 2014); DenseNet (2017)
# came after. In this lesson you will
#
# 1. see VGG's idea (stacks of 3×3 convolutions) and its cost;
# 2. see Inception's idea (parallel branches, 1×1 bottlenecks) and check three claims about it;
# 3. see what DenseNet shares with ResNet and what it does not;
# 4. measure seven models of the five families side by side with `cnnedu.profiling.profile`;
# 5. train a small member of each family on Fashion-MNIST in the same time budget, over five
#    seeds, judged on a validation split.
#
# Along the way, the claims of the blog post behind this course (introduced in lesson 01) about
# these families are checked as they come up.

# %%
try:
    from cnnedu import config
except ModuleNotFoundError as err:   # say how to install the course, not only what is missing
    raise ModuleNotFoundError(
        f"{err}. This lesson needs the course's package, cnnedu, in this kernel's Python. In a "
        "clone of the course: ./course.sh lab. Elsewhere, in a cell: %pip install followed by "
        "the cnnedu wheel or folder you were given; then Kernel > Restart Kernel.") from None
from cnnedu.budget import FAMILY_BUDGET_S, FAMILY_SEEDS
from cnnedu.data import data_note
from cnnedu.device import choose_device

QUICK = None   # True: quick mode (each training cut to a few batches); None: CNNEDU_QUICK decides
QUICK = config.quick_mode(QUICK)
config.seed_everything(0)
device = choose_device().device
REPEATS = 1 if QUICK else 3              # timed forwards per model for latency
BUDGET_S = 1 if QUICK else FAMILY_BUDGET_S   # training seconds per run in section 5 (15 s)
SEEDS = (0, 1) if QUICK else FAMILY_SEEDS     # five seeds in full mode
print("quick mode" if QUICK else "full mode", "| device:", device)
print(data_note())

# %% [markdown]
# ## 1. VGG: only 3×3 convolutions
# Simonyan and Zisserman (2014) replaced large kernels by stacks of 3×3 ones. Two stacked 3×3
# convolutions see a 5×5 patch, like one 5×5 convolution, with fewer weights and one more
# non-linearity. Computed, for C = 64 channels in and out:

# %%
# NBVAL_CHECK_OUTPUT
from torch import nn

from cnnedu.layer_table import count_layers, count_params, layer_table

C = 64
two_3x3 = nn.Sequential(nn.Conv2d(C, C, 3, padding=1, bias=False), nn.ReLU(),
                        nn.Conv2d(C, C, 3, padding=1, bias=False))
one_5x5 = nn.Conv2d(C, C, 5, padding=2, bias=False)
for name, block in [("two 3x3", two_3x3), ("one 5x5", one_5x5)]:
    field = layer_table(block, (1, C, 32, 32))[-1].field.size
    print(f"{name}: receptive field {field}x{field}, weights {count_params(block):,}")
print(f"saving: {1 - count_params(two_3x3) / count_params(one_5x5):.0%} "
      "(18 C^2 instead of 25 C^2)")

# %%
# NBVAL_CHECK_OUTPUT
import torchvision.models as tvm

vgg16 = tvm.vgg16()
print("VGG-16 Conv2d layers:", count_layers(vgg16, nn.Conv2d), "| Linear:",
      count_layers(vgg16, nn.Linear), f"| parameters: {count_params(vgg16):,}")
print("kernel sizes:", {m.kernel_size for m in vgg16.modules() if isinstance(m, nn.Conv2d)})

# %% [markdown]
# 13 convolutions + 3 fully connected layers = the "16". The blog post's "it had just 13 conv2d
# layers" is right. Its cost shows in section 4: the most parameters and FLOPs of the seven models measured there.

# %% [markdown]
# ## 2. Inception: branches and 1×1 bottlenecks
# GoogLeNet (Szegedy et al., 2014) runs several kernel sizes side by side and concatenates
# the results. Here is one module of torchvision's GoogLeNet, its four branches:

# %%
# NBVAL_CHECK_OUTPUT
googlenet = tvm.googlenet(aux_logits=False, init_weights=False)
module = googlenet.inception3a
for name in ("branch1", "branch2", "branch3", "branch4"):
    parts = [f"{type(m).__name__}{tuple(m.kernel_size) if hasattr(m, 'kernel_size') else ''}"
             f"->{m.out_channels}" if isinstance(m, nn.Conv2d) else type(m).__name__
             for m in getattr(module, name).modules()
             if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    print(f"{name}: {' then '.join(parts)}")
import torch

print("output channels: 64 + 128 + 32 + 32 =", module(torch.zeros(1, 192, 28, 28)).shape[1])

# %% [markdown]
# Look closely at `branch3`: the paper's table has a **5×5** convolution there, torchvision has
# a 3×3. That is a known difference (pytorch/vision issue #906): the model was ported from
# TensorFlow's implementation, which has it, and changing it would need the ImageNet weights to
# be retrained. Code, not a paper's figure, is what you run.
#
# The 1×1 convolutions before the larger kernels are **bottlenecks**: they shrink the channels
# first. The saving for the paper's 5×5 branch of this module (192 channels in, 16 after the
# bottleneck, 32 out, 28×28), computed with PyTorch's FLOP counter (which counts 2 FLOPs per
# multiply-add: a multiply and an add):

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.layer_table import total_flops

direct = nn.Conv2d(192, 32, 5, padding=2, bias=False)
bottleneck = nn.Sequential(nn.Conv2d(192, 16, 1, bias=False), nn.Conv2d(16, 32, 5, padding=2,
                                                                        bias=False))
for name, branch in [("5x5 directly", direct), ("1x1 to 16, then 5x5", bottleneck)]:
    print(f"{name:22s} weights {count_params(branch):7,}   "
          f"MFLOPs {total_flops(branch, (1, 192, 28, 28)) / 1e6:6.1f}")

# %% [markdown]
# ### The blog post's claims about Inception, checked
# "Inception uses BatchNorm" and "uses Dropout (not present in ResNet)":

# %%
# NBVAL_CHECK_OUTPUT
inception_v3 = tvm.inception_v3(aux_logits=False, init_weights=False)
resnet18, resnet50 = tvm.resnet18(), tvm.resnet50()
for name, model in [("googlenet", googlenet), ("inception_v3", inception_v3),
                    ("resnet18", resnet18), ("resnet50", resnet50)]:
    print(f"{name:13s} BatchNorm2d: {count_layers(model, nn.BatchNorm2d):3d}   "
          f"Dropout: {count_layers(model, nn.Dropout)}")

# %% [markdown]
# Both hold in torchvision: GoogLeNet and Inception-v3 use BatchNorm after every convolution
# (the 2014 GoogLeNet paper had none: BatchNorm came in 2015, and torchvision's GoogLeNet adds
# it) and one Dropout before the classifier, which ResNet does not have. One caveat: both models
# are built here without their **auxiliary classifiers** (`aux_logits=False`). The papers
# attach small extra heads to intermediate layers, whose losses are added during training and
# which are dropped at inference; GoogLeNet's heads have Dropout of their own. So the counts
# above, and the parameter counts below, are those of the inference networks (torchvision's
# documented parameter count of Inception-v3 includes its auxiliary head, so it is larger).
#
# **Inception-v3** (Szegedy et al., "Rethinking the Inception Architecture", 2016) keeps the
# branches but *factorises* their kernels: a 5×5 becomes two stacked 3×3s (VGG's idea from
# section 1 again), an n×n becomes a 1×n followed by an n×1, and the grid is shrunk by
# convolution and pooling branches side by side. torchvision's `InceptionA` module still has
# a 5×5 branch beside the double 3×3 one, another difference between code and paper.
#
# "Inception is memory intensive compared to ResNet": the memory that grows with depth in
# training is the **activations** autograd keeps for the backward pass.
# `cnnedu.profiling.saved_activation_bytes` measures them in one training forward (one image):

# %%
from cnnedu.profiling import saved_activation_bytes

memory_rows = []
for name, model, native in [("inception_v3", inception_v3, 299), ("resnet50", resnet50, 224),
                            ("resnet18", resnet18, 224)]:
    for size in sorted({native, 224}):
        mib = saved_activation_bytes(model, (1, 3, size, size)) / 2**20
        memory_rows.append((name, size, mib))
        print(f"{name:13s} at {size}x{size}: {mib:6.1f} MiB of saved activations per image")

# %%
# NBVAL_CHECK_OUTPUT
memory = {(n, s): m for n, s, m in memory_rows}
print("inception_v3 (299) uses more than resnet50 (224):",
      memory[("inception_v3", 299)] > memory[("resnet50", 224)])
print("inception_v3 uses more than resnet50 at the same 224x224:",
      memory[("inception_v3", 224)] > memory[("resnet50", 224)])
print("inception_v3 uses more than resnet18 at the same 224x224:",
      memory[("inception_v3", 224)] > memory[("resnet18", 224)])

# %% [markdown]
# **What the numbers show.** The claim holds only in part. At its native 299×299 input,
# Inception-v3 keeps more activations per image than ResNet-50 at its native 224×224 (94 vs 82
# MiB): much of that is the larger input. At the **same** 224×224 input it keeps *less* than
# ResNet-50 (48 vs 82 MiB), though more than ResNet-18 (21 MiB). "Memory intensive compared to
# ResNet" depends on which ResNet and which input size; the table in section 4 shows the family
# that really is memory-hungry: DenseNet.

# %% [markdown]
# ### Exercise 05.1 (code): count an Inception module's parameters
# The small Inception net trained in section 5 is built from `cnnedu.models.small.InceptionModule
# (cin, b1, r3, b3, r5, b5, bp)`: four branches on the same input, each made of conv-BN-ReLU
# units (convolution without bias, then BatchNorm, then ReLU), concatenated to b1 + b3 + b5 + bp
# channels:
#
# * a 1×1 unit to `b1` channels;
# * a 1×1 unit reducing to `r3` channels, then a 3×3 unit to `b3`;
# * a 1×1 unit reducing to `r5` channels, then a 5×5 unit to `b5`;
# * a 3×3 max pooling (stride 1), then a 1×1 unit to `bp`.
#
# Write `inception_params(cin, b1, r3, b3, r5, b5, bp)` returning its number of parameters,
# from the formula, without building the module. The check compares with `count_params` of the
# real module for four sizes. `solution("05.1")` shows a reference solution.

# %%
# EXERCISE 05.1
def inception_params(cin, b1, r3, b3, r5, b5, bp):
    """Number of parameters of InceptionModule(cin, b1, r3, b3, r5, b5, bp)."""
    raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check, check_code, solution  # noqa: F401 (solution: yours to call)

check_code("05.1", inception_params);

# %% [markdown]
# ## 3. DenseNet: concatenate instead of add
# ResNet adds a block's output to its input (`x + F(x)`); DenseNet (Huang et al., 2017)
# **concatenates**: each layer gets all earlier layers' outputs in its block and adds `k` new
# channels (the *growth rate*, 32 in DenseNet-121). In DenseNet-121 each layer is a
# *bottleneck* layer: BN-ReLU-1×1 conv to four times the growth rate, then BN-ReLU-3×3 conv to
# the growth rate (the 1×1 is `conv1` below). Transition layers (1×1 conv + 2×2 average
# pooling) shrink the size between blocks, and in DenseNet-BC, of which DenseNet-121 is one,
# halve the channels too ("compression"; the plain DenseNet keeps them). Exercise 05.2 and the
# small DenseNet-style net of section 5 use the plain layer, without the bottleneck. Inside the
# first dense block of DenseNet-121:

# %%
# NBVAL_CHECK_OUTPUT
densenet121 = tvm.densenet121()
block = densenet121.features.denseblock1
inputs = [layer.conv1.in_channels for layer in block.children()]
print("input channels of its 6 layers:", inputs, "-> block output", inputs[-1] + 32)
print("transition1:", [type(m).__name__ for m in densenet121.features.transition1.children()])
print(f"parameters: DenseNet-121 {count_params(densenet121):,} vs ResNet-50 "
      f"{count_params(resnet50):,}")

# %% [markdown]
# So "DenseNet is a slight modification of ResNet" is half right. **Same**: stages of blocks
# with shortcuts from early to late layers, BatchNorm and ReLU around every convolution (in a
# different order: ResNet's unit is conv-BN-ReLU, as lesson 04 printed; DenseNet's is
# pre-activation, BN-ReLU-conv, as `transition1` above shows), 1×1 bottlenecks, global
# average pooling. **Different**: connectivity (each layer is connected to *every* later layer
# of its block, by concatenation; the paper's explanation is that features are then reused
# rather than re-learned), fewer parameters (DenseNet-121 has fewer than ResNet-18 at a higher
# ImageNet top-1, and about a third of ResNet-50's at a lower one: the table below), and
# memory: the concatenations keep growing tensors alive, which the table below shows.

# %% [markdown]
# ### Exercise 05.2 (code): a DenseNet layer
# Write `MyDenseLayer(cin, growth)` as an `nn.Module`: BatchNorm over the input's channels,
# ReLU, then a 3×3 convolution (padding 1, no bias) making `growth` new channels, and return the
# input and the new channels concatenated, input first. Name the layers `norm`, `relu` and
# `conv` (as in `cnnedu.models.small.DenseLayer`) so the check can give yours the same random
# weights; it compares outputs in evaluation and training mode.

# %%
# EXERCISE 05.2
class MyDenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        raise NotImplementedError("your code here")

    def forward(self, x):
        raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check_code

check_code("05.2", MyDenseLayer);

# %% [markdown]
# ## 4. The five families side by side
# `cnnedu.profiling.compare` profiles each model: convolutions, parameters, FLOPs (PyTorch's
# counter: 2 per multiply-add), saved activations for one training image, and median CPU
# latency for one image. The ImageNet top-1 accuracy is read from torchvision's weight
# metadata (no download needed). Inception-v3 runs at its native 299×299, the rest at 224×224.
#
# **Like with like.** An accuracy belongs to a *trained model*, not to an architecture: it
# depends on the training recipe too. torchvision's `DEFAULT` weights are the best it has, and
# for ResNet-50 that is `IMAGENET1K_V2`, trained in 2021 with a much newer recipe (longer
# training, stronger augmentation, label smoothing, mixup, EMA ...); the other six models have
# only their original `IMAGENET1K_V1` weights with a top-1. So the table uses V1, each model's
# oldest weights, for every model, and the recipe effect gets its own cell below. V1 is not
# one common recipe, though: AlexNet's, VGG's and the ResNets' V1 weights were trained with
# torchvision's simple reference recipe, while GoogLeNet's and Inception-v3's were ported from
# TensorFlow and DenseNet-121's from LuaTorch, each trained with its authors' own recipe
# (Inception-v3's already had RMSProp and label smoothing). Part of any gap in the table is
# recipe, not architecture.

# %%
from cnnedu.profiling import compare, profiles_text

names = ["alexnet", "vgg16", "googlenet", "inception_v3", "resnet18", "resnet50", "densenet121"]
models = {"alexnet": tvm.alexnet(), "vgg16": vgg16, "googlenet": googlenet,
          "inception_v3": inception_v3, "resnet18": resnet18, "resnet50": resnet50,
          "densenet121": densenet121}
shapes = {n: (1, 3, 299, 299) if n == "inception_v3" else (1, 3, 224, 224) for n in names}
profiles = compare(models, shapes, device="cpu", repeats=REPEATS)
top1 = {n: tvm.get_model_weights(n).IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]["acc@1"]
        for n in names}
print(profiles_text(profiles, {n: {"top-1 %": f"{top1[n]:.1f}"} for n in names}))

# %%
# NBVAL_CHECK_OUTPUT
for n in names:
    meta = tvm.get_model_weights(n).IMAGENET1K_V1.meta
    print(f"{n:13s} convs {profiles[n].conv2d_count:3d} | our FLOPs / 2 = "
          f"{profiles[n].flops / 2e9:6.2f} G multiply-adds | torchvision's '_ops': {meta['_ops']:6.2f}")

# %% [markdown]
# Our FLOP counts agree with torchvision's published figures to every shown digit, once one
# knows that torchvision's "GFLOPS" are multiply-adds: PyTorch's counter (and this course)
# counts each multiply-add as 2 FLOPs.

# %% [markdown]
# ### The recipe effect
# Same architecture, same 25.6 M parameters, same FLOPs: only the training recipe differs.

# %%
# NBVAL_CHECK_OUTPUT
resnet50_weights = {w.name: w.meta["_metrics"]["ImageNet-1K"]["acc@1"]
                    for w in tvm.ResNet50_Weights}
recipe_gain = resnet50_weights["IMAGENET1K_V2"] - resnet50_weights["IMAGENET1K_V1"]
depth_gain = top1["resnet50"] - top1["resnet18"]
flops_ratio = profiles["resnet50"].flops / profiles["resnet18"].flops
print("ResNet-50 top-1:", ", ".join(f"{k} {v:.2f} %" for k, v in resnet50_weights.items()))
print(f"new recipe, same network: {recipe_gain:+.2f} points")
print(f"ResNet-18 -> ResNet-50 (both V1, {flops_ratio:.1f}x the FLOPs): {depth_gain:+.2f} points")
print("with V1 weights ResNet-50 is below Inception-v3:", top1["resnet50"] < top1["inception_v3"])
print("with V2 weights ResNet-50 would lead the table:",
      resnet50_weights["IMAGENET1K_V2"] > max(top1.values()))

# %% [markdown]
# A better recipe bought ResNet-50 about three quarters as much as going from ResNet-18 to
# ResNet-50 did
# (the numbers above). Comparisons of architectures that mix weights trained with different
# recipes measure the recipes as much as the architectures.

# %% [markdown]
# ### Ratios, computed
# The claims a summary would make, computed from the table rather than typed:

# %%
# NBVAL_CHECK_OUTPUT
def ratio(measure, a, b):
    return measure(profiles[a]) / measure(profiles[b])


print(f"VGG-16 / ResNet-50: {ratio(lambda p: p.flops, 'vgg16', 'resnet50'):.1f}x the FLOPs, "
      f"{ratio(lambda p: p.params, 'vgg16', 'resnet50'):.1f}x the parameters, "
      f"{top1['vgg16'] - top1['resnet50']:+.1f} points top-1")
print(f"GoogLeNet / ResNet-18: {ratio(lambda p: p.params, 'googlenet', 'resnet18'):.2f}x the "
      f"parameters, {top1['googlenet'] - top1['resnet18']:+.2f} points top-1")
print(f"DenseNet-121 / ResNet-50: {ratio(lambda p: p.params, 'densenet121', 'resnet50'):.2f}x "
      f"the parameters, {ratio(lambda p: p.activation_bytes, 'densenet121', 'resnet50'):.2f}x "
      "the saved activations")
per_gflop = {n: top1[n] / (profiles[n].flops / 1e9) for n in names}
per_mparam = {n: top1[n] / (profiles[n].params / 1e6) for n in names}
print(f"{'model':13s} {'top-1 points per GFLOP':>23s} {'per million parameters':>23s}")
for n in names:
    print(f"{n:13s} {per_gflop[n]:23.1f} {per_mparam[n]:23.2f}")

# %%
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

# label offsets (points) chosen so that no two names overlap
offsets = {"googlenet": (-8, -12), "resnet18": (6, 4), "alexnet": (6, 4), "vgg16": (-10, 8),
           "inception_v3": (7, 5), "resnet50": (-8, 6), "densenet121": (6, -10)}
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
for n in names:
    p = profiles[n]
    axes[0].scatter(p.flops / 1e9, top1[n], s=p.params / 1e5, alpha=0.7)
    dx, dy = offsets[n]
    axes[0].annotate(n, (p.flops / 1e9, top1[n]), fontsize=8, xytext=(dx, dy),
                     textcoords="offset points", ha="right" if dx < 0 else "left")
axes[0].set(xscale="log", xlabel="GFLOPs per image (log)", ylabel="ImageNet top-1 % (V1 weights)",
            title="accuracy vs compute (dot area = parameters)", ylim=(52, 81))
axes[0].set_xticks([1, 2, 5, 10, 20, 50])
axes[0].xaxis.set_major_formatter(ScalarFormatter())
axes[0].xaxis.set_minor_formatter(NullFormatter())
axes[1].barh(names, [profiles[n].params / 1e6 for n in names])
axes[1].set(xlabel="parameters (millions)", title="parameters")
axes[2].barh(names, [profiles[n].activation_bytes / 2**20 for n in names], color="C2")
axes[2].set(xlabel="MiB per training image", title="saved activations")
for ax in axes[1:]:
    ax.invert_yaxis()
fig.tight_layout()

# %% [markdown]
# Accuracy *per unit of cost*, in the order the models appeared (2012 to 2017):

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
axes[0].bar(names, [per_gflop[n] for n in names], color="C0")
axes[0].set(ylabel="top-1 points per GFLOP", title="accuracy per FLOP")
axes[1].bar(names, [per_mparam[n] for n in names], color="C1")
axes[1].set(ylabel="top-1 points per M parameters", title="accuracy per parameter")
for ax in axes:
    ax.tick_params(axis="x", rotation=30)
fig.tight_layout()
later = ["googlenet", "resnet18", "resnet50", "densenet121"]
print("accuracy per GFLOP: AlexNet", f"{per_gflop['alexnet']:.0f}", "vs later models",
      [round(per_gflop[n]) for n in later])
print("accuracy per M parameters: AlexNet", f"{per_mparam['alexnet']:.2f}", "vs later models",
      [round(per_mparam[n], 2) for n in later])

# %% [markdown]
# **Reading the table and the plots.** VGG-16 is the outlier in cost: the most parameters and
# FLOPs of all (the ratios above: several times ResNet-50's compute and parameters) for lower
# accuracy. GoogLeNet matches ResNet-18's accuracy with a bit over half its parameters;
# Inception-v3 and ResNet-50 buy their higher accuracy with more compute. DenseNet-121 has the
# fewest parameters after GoogLeNet and is more accurate than ResNet-18 and GoogLeNet, but it
# keeps the most activations of all, the price of concatenating every layer's output in the
# straightforward implementation (torchvision's default): each layer's BatchNorm saves its own
# copy of the growing concatenation. A memory-efficient implementation recomputes those
# instead of keeping them (Pleiss et al. 2017; `densenet121(memory_efficient=True)`), trading
# time for memory. Latency does not follow FLOPs either: branches, concatenations and memory
# traffic cost time that FLOPs do not count, and these milliseconds hold only for this machine,
# its thread count and one image at a time.
#
# Careful with "top-1 points per GFLOP": AlexNet, cheap in FLOPs and shallow, tops that column,
# but the ratio favours any cheap model (a model with almost no compute and modest accuracy
# would beat them all), so it does not say which design uses compute better. Compare at similar
# compute instead: for two to two and a half times AlexNet's compute (3.00 vs 1.43 GFLOPs)
# GoogLeNet reaches 69.8 % top-1 against AlexNet's 56.5 %, as does ResNet-18 at 3.63 GFLOPs; and
# more compute pays only with a better design: VGG-16 spends 30.94 GFLOPs for 71.6 %, ResNet-50
# 8.18 GFLOPs for 76.1 %. Per **parameter** (the same caveat applies; VGG-16 is even below
# AlexNet here): from AlexNet's huge fully connected layers to GoogLeNet's and DenseNet's lean
# ones, each parameter carries far more accuracy. (Latency here is one image on this CPU; on a
# GPU, and for batches, the order can change.)

# %% [markdown]
# ## 5. Small versions, trained in the same time budget
# `cnnedu.models.small` holds a VGG-, an Inception- and a DenseNet-style network for 28×28
# images; with lesson 02's AlexNet and lesson 04's ResNet that makes five. Each run gets the
# same **wall-clock budget**, `BUDGET_S` seconds of training, enforced in time: the one-cycle
# learning rate follows the clock (`cnnedu.train.timed.TimedOneCycle`: warm up for the first
# quarter of the time, anneal over the rest) and no step starts once the time is spent, so a
# family whose steps cost more simply gets fewer of them. Same recipe for all: AdamW (lr 3e-3,
# weight decay 0.05), batches of 128, label smoothing 0.1, random horizontal flips and random
# shifts of up to 2 pixels; five seeds each.
#
# Which family is better is a *choice*, so it is judged on a **validation split**: 5,000 of
# the 60,000 training images (500 per class, fixed) are held out by `cnnedu.splits.hold_out`
# and never trained on; the test images are not used in this section at all (lesson 02
# explains why a choice must not be made on them).

# %% [markdown]
# ⏱ **About 7 minutes (5 families × 5 seeds × 15 s, plus validation)** in full mode on a
# 2-core laptop CPU (quick mode, `QUICK = True` in the parameters cell: under a minute).

# %%
from cnnedu.budget import runs_text, train_families
from cnnedu.data import FashionMNIST
from cnnedu.models.alexnet import AlexNet
from cnnedu.models.resnet import resnet_mini
from cnnedu.models.small import SmallDenseNet, SmallInception, SmallVGG
from cnnedu.splits import hold_out

full_train = FashionMNIST("train")
train_set, val_set = hold_out(full_train, 500 if QUICK else 5000 if full_train.is_full else None)
families = {"AlexNet": AlexNet, "VGG-style": SmallVGG, "Inception-style": SmallInception,
            "ResNet-8 mini": lambda: resnet_mini(8, 16), "DenseNet-style": SmallDenseNet}
runs = train_families(families, train_set, val_set, seconds=BUDGET_S, seeds=SEEDS,
                      device=device, optimizer="adamw", lr=3e-3, weight_decay=0.05,
                      label_smoothing=0.1, channels_last=True)
print(f"{len(train_set):,} training and {len(val_set):,} validation images, "
      f"{BUDGET_S:g} s of training per run, seeds {SEEDS}\n")
print(runs_text(runs, budget=BUDGET_S))

# %% [markdown]
# The table gives each family's validation accuracy over the seeds (mean, and the worst and
# best seed), the median number of steps it got in the budget and the cost of one step, and
# the most any of its runs went over the budget (about one step: the clock is read before
# every step, and one step can take longer than the median). The parameter counts, for
# reference. Apart from AlexNet's they are close, but the cost of a step is not (the ms/step
# column above): the DenseNet-style net's first block works at the full 28×28, and the
# Inception-style net's many small branches make its step cost more than twice the VGG-style
# net's at a similar size. So the verdicts below are about these small nets as built, not about
# each family's idea alone:

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.layer_table import count_params

for name, build in families.items():
    print(f"{name:16s} {count_params(build()):>9,} parameters")

# %% [markdown]
# Now the verdicts, printed by the runs themselves (`cnnedu.budget.verdict`, the course's one
# verdict function: the difference seed by seed, its mean ± sd and range, how many of the five
# seeds agree, and a two-sided paired t-test, which assumes roughly normal per-seed
# differences; below five seeds it names no winner). Each family is compared
# with lesson 04's ResNet-8 mini, trained from the same seeds on the same images.

# %%
from cnnedu.budget import verdict
from cnnedu.findings import full_run_found

ranking = sorted(runs, key=lambda n: -sum(r.accuracy for r in runs[n]))
print("ranking by mean validation accuracy:", " > ".join(ranking), "\n")
verdicts = {}
for name in ("AlexNet", "VGG-style", "Inception-style", "DenseNet-style"):
    key = f"{name} vs ResNet-8 mini"
    verdicts[key] = verdict(runs, name, "ResNet-8 mini", quick=QUICK,
                            full_run_found=full_run_found("05", key))
    print()

# %%
import statistics

steps = {n: statistics.median(r.steps for r in runs[n]) for n in runs}
step_ms = {n: 1000 * statistics.median(r.seconds / max(1, r.steps) for r in runs[n]) for n in runs}
dearest, cheapest = max(step_ms, key=step_ms.get), min(step_ms, key=step_ms.get)
print(f"dearest step: {dearest}, {step_ms[dearest]:.0f} ms ({steps[dearest]:.0f} steps in the "
      f"budget); cheapest: {cheapest}, {step_ms[cheapest]:.0f} ms ({steps[cheapest]:.0f} steps): "
      f"{step_ms[dearest] / step_ms[cheapest]:.1f}x")

# %% [markdown]
# **What the numbers show.** Read the verdicts above from your own run: a family "beat"
# another only where the per-seed differences are consistent enough for the t-test (p < 0.05);
# otherwise the printed line says
# "not separated" and the difference is within the seed-to-seed noise. The ranking line orders
# the means only: where a pair is not separated, or was not compared, its order is not a
# finding. Read the steps column
# beside them: in a fixed time a family whose step costs several times more gets that many
# times fewer steps, so this comparison measures accuracy per second *of this machine*, not a
# family's best accuracy (lessons 02 and 04 train AlexNet and ResNet longer and print how far
# they get), and on a GPU, where the step costs compare differently, the ranking can change.
# The claims are limited to what was run: these five small nets, this recipe, `BUDGET_S`
# seconds, Fashion-MNIST's validation split.

# ## Exercises
# ### Exercise 05.3
# How many weights (no biases) do **three** stacked 3×3 convolutions with C = 64 channels in and
# out have? (They see a 7×7 patch, like one 7×7 convolution with 49·C² weights.)

# %%
# EXERCISE 05.3
answer_1 = None   # an int

# %%
# NBVAL_CHECK_OUTPUT
from torch import nn

from cnnedu.exercises import check
from cnnedu.layer_table import count_params

three = nn.Sequential(*[nn.Conv2d(64, 64, 3, padding=1, bias=False) for _ in range(3)])
check(answer_1, count_params(three), exercise="05.3",
      hint=["one 3×3 convolution from C to C channels has C × C × 3 × 3 weights; then three."]);

# %% [markdown]
# ### Exercise 05.4
# A dense block starts with 64 channels and has 6 layers with growth rate 32. How many channels
# does it output?

# %%
# EXERCISE 05.4
answer_2 = None   # an int

# %%
# NBVAL_CHECK_OUTPUT
import torchvision.models as tvm

from cnnedu.exercises import check

inputs = [layer.conv1.in_channels for layer in tvm.densenet121().features.denseblock1.children()]
check(answer_2, inputs[-1] + 32, exercise="05.4",
      hint=["each layer keeps all the channels it received and adds k new ones.",
            "count layer by layer: 64 channels go in; how many come out of layer 1? of layer 2?"]);

# %% [markdown]
# ## Summary
# * VGG: 3×3 stacks (13 conv layers in VGG-16), simple and costly.
# * Inception: parallel branches with 1×1 bottlenecks; torchvision's versions use BatchNorm and
#   Dropout.
# * DenseNet: ResNet's shortcut idea with concatenation: fewer parameters, more activation memory.
# * Compared like with like (V1 weights for all): VGG-16 costs 3.8× ResNet-50's FLOPs for 4.5
#   points less top-1; a newer training recipe alone lifts ResNet-50 by 4.7 points.
# * Top-1 per GFLOP is highest for AlexNet, but that ratio favours any cheap model; at similar
#   compute the later designs are more accurate (GoogLeNet 69.8 % at 3.00 GFLOPs, AlexNet 56.5 %
#   at 1.43).
# * Inception keeps more activations than ResNet-50 only at its larger input; DenseNet-121 keeps
#   the most.
# * In the same CPU time budget (enforced per step; five seeds, validation split) the verdicts
#   printed in section 5 say which small family learned more per second on this machine, and
#   which differences the seeds do not separate.

# %% [markdown]
# The findings of this run, printed from its results:

# %%
print(f"five families, {len(SEEDS)} seeds, {BUDGET_S:g} s each, validation accuracy:")
for name in ranking:
    accs = [r.accuracy for r in runs[name]]
    print(f"  {name:16s} {sum(accs) / len(accs):.4f}   ({steps[name]:.0f} steps)")
for key, found in verdicts.items():
    print(f"{key}: {found.headline}")
