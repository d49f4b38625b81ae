# %% [markdown]
# # 05 · VGG, Inception, DenseNet: the families measured side by side
#
# Between AlexNet (2012) and ResNet (2015) came VGG and Inception (both 2014); DenseNet (2017)
# came after. In this lesson you will
#
# 1. see VGG's idea (stacks of 3×3 convolutions) and its cost;
# 2. see Inception's idea (parallel branches, 1×1 bottlenecks) and check two claims about it;
# 3. see what DenseNet shares with ResNet and what it does not;
# 4. measure all five families side by side with `cnnedu.profiling.profile`;
# 5. train a small member of each family on Fashion-MNIST in the same time budget.

# %%
from cnnedu import config
from cnnedu.data import data_note
from cnnedu.device import choose_device

QUICK = None   # True: quick mode (each training cut to a few batches); None: CNNEDU_SMOKE decides
SMOKE = config.smoke_mode(QUICK)
config.seed_everything(0)
device = choose_device().device
REPEATS = 1 if SMOKE else 3              # timed forwards per model for latency
BUDGET_S = 2 if SMOKE else 40            # training seconds per family in section 5
print("smoke mode" if SMOKE else "full mode", "| device:", device)
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
# layers" is right. Its cost shows in section 4: the most parameters and FLOPs of all five.

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
# bottleneck, 32 out, 28×28), computed with PyTorch's FLOP counter:

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
# it) and one Dropout before the classifier, which ResNet does not have.
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
# channels (the *growth rate*, 32 in DenseNet-121). Transition layers (1×1 conv + 2×2 average
# pooling) halve channels and size between blocks. Inside the first dense block of DenseNet-121:

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
# with shortcuts from early to late layers, BN-ReLU-conv units, 1×1 bottlenecks, global
# average pooling. **Different**: connectivity (each layer is connected to *every* later layer
# of its block, by concatenation, so features are reused rather than re-learned), far fewer
# parameters (8.0 M vs 25.6 M for ResNet-50, at higher ImageNet accuracy than ResNet-34), and
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
check_code("05.2", MyDenseLayer);

# %% [markdown]
# ## 4. The five families side by side
# `cnnedu.profiling.compare` profiles each model: convolutions, parameters, FLOPs (PyTorch's
# counter: 2 per multiply-add), saved activations for one training image, and median CPU
# latency for one image. The ImageNet top-1 accuracy is read from torchvision's weight
# metadata (no download needed). Inception-v3 runs at its native 299×299, the rest at 224×224.

# %%
from cnnedu.profiling import compare, profiles_text

names = ["alexnet", "vgg16", "googlenet", "inception_v3", "resnet18", "resnet50", "densenet121"]
models = {"alexnet": tvm.alexnet(), "vgg16": vgg16, "googlenet": googlenet,
          "inception_v3": inception_v3, "resnet18": resnet18, "resnet50": resnet50,
          "densenet121": densenet121}
shapes = {n: (1, 3, 299, 299) if n == "inception_v3" else (1, 3, 224, 224) for n in names}
profiles = compare(models, shapes, device="cpu", repeats=REPEATS)
top1 = {n: tvm.get_model_weights(n).DEFAULT.meta["_metrics"]["ImageNet-1K"]["acc@1"]
        for n in names}
print(profiles_text(profiles, {n: {"top-1 %": f"{top1[n]:.1f}"} for n in names}))

# %%
# NBVAL_CHECK_OUTPUT
for n in names:
    meta = tvm.get_model_weights(n).DEFAULT.meta
    print(f"{n:13s} convs {profiles[n].conv2d_count:3d} | our FLOPs / 2 = "
          f"{profiles[n].flops / 2e9:6.2f} G multiply-adds | torchvision's '_ops': {meta['_ops']:6.2f}")

# %% [markdown]
# Our FLOP counts agree with torchvision's published figures to every shown digit, once one
# knows that torchvision's "GFLOPS" are multiply-adds: PyTorch's counter (and this course)
# counts each multiply-add as 2 FLOPs.

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 3, figsize=(16, 4))
for n in names:
    p = profiles[n]
    axes[0].scatter(p.flops / 1e9, top1[n], s=p.params / 1e5)
    axes[0].annotate(n, (p.flops / 1e9, top1[n]), fontsize=8, xytext=(4, 4),
                     textcoords="offset points")
axes[0].set(xscale="log", xlabel="GFLOPs per image (log)", ylabel="ImageNet top-1 %",
            title="accuracy vs compute (dot size = parameters)")
axes[1].barh(names, [profiles[n].params / 1e6 for n in names])
axes[1].set(xlabel="parameters (millions)", title="parameters")
axes[2].barh(names, [profiles[n].activation_bytes / 2**20 for n in names], color="C2")
axes[2].set(xlabel="MiB per training image", title="saved activations")
for ax in axes[1:]:
    ax.invert_yaxis()
fig.tight_layout()

# %% [markdown]
# **Reading the table.** VGG-16 is the outlier in cost: 138 M parameters and about 31 GFLOPs,
# twice ResNet-50's compute and 5.4 times its parameters, for lower accuracy. GoogLeNet matches
# ResNet-18's accuracy with about half its parameters; Inception-v3 and ResNet-50 buy their
# higher accuracy with more compute. DenseNet-121 has the fewest parameters after GoogLeNet (8 M)
# and is more accurate than ResNet-18 and GoogLeNet, but it keeps the most activations of
# all (125 MiB per training image), the price of concatenating every layer's output. The
# 2012-to-2017 trend is accuracy per FLOP and per parameter, not raw size. (Latency here is one
# image on this CPU; on a GPU, and for batches, the order changes.)

# %% [markdown]
# ## 5. Small versions, trained in the same time budget
# `cnnedu.models.small` holds a VGG-, an Inception- and a DenseNet-style network for 28×28
# images; with lesson 02's AlexNet and lesson 04's ResNet that makes five. Each gets the same
# wall-clock budget: `train_with_budget` times a few real steps first and sizes the one-cycle
# schedule to fit, so every model finishes its schedule (AdamW, lr 3e-3, label smoothing 0.1,
# flips, full Fashion-MNIST).

# %% [markdown]
# ⏱ **About 4 minutes (5 families × 40 s, plus testing)** in full mode on a 2-core laptop CPU
# (longer when the machine is busy; quick mode, `QUICK = True` in the parameters cell: seconds).
# The kernel does one thing at a time: while this cell runs, the widgets above do not answer
# (they do once it ends).

# %%
from cnnedu.data import FashionMNIST
from cnnedu.experiments import train_with_budget
from cnnedu.models.alexnet import AlexNet
from cnnedu.models.resnet import resnet_mini
from cnnedu.models.small import SmallDenseNet, SmallInception, SmallVGG

train_set, test_set = FashionMNIST("train"), FashionMNIST("test")
families = {"AlexNet": AlexNet, "VGG-style": SmallVGG, "Inception-style": SmallInception,
            "ResNet-8 mini": lambda: resnet_mini(8, 16), "DenseNet-style": SmallDenseNet}
results = {}
for name, build in families.items():
    model, history, steps = train_with_budget(
        build, train_set, test_set, seconds=BUDGET_S, device=device, progress=False,
        optimizer="adamw", lr=3e-3, weight_decay=0.05, label_smoothing=0.1, channels_last=True)
    results[name] = (count_params(model), steps, history.final_test_acc, history.seconds[-1])
    print(f"{name:16s} done")

# %%
print(f"{'family':16s} {'parameters':>10s} {'steps':>6s} {'seconds':>8s} {'test accuracy':>14s}")
for name, (params, steps, acc, seconds) in results.items():
    print(f"{name:16s} {params:10,} {steps:6d} {seconds:8.0f} {acc:14.4f}")

# %% [markdown]
# **What the numbers show** (the run stored here: 40 s of training each, this 2-core CPU).
# The VGG-style net is the most accurate in this budget (0.908), then the Inception-style
# (0.897), ResNet-8 (0.880) and AlexNet (0.876). The DenseNet-style net comes last (0.756) only
# because it managed 88 steps: its concatenations at full 28×28 resolution make each step about
# ten times slower on this CPU than the VGG-style net's. A fixed time budget measures accuracy per
# second *on this machine*, not a family's best accuracy: lessons 02 and 04 trained AlexNet and
# ResNet longer, to 0.91 and 0.92, and on a GPU the ranking can change again. Small, plain 3×3
# stacks are hard to beat at this scale; the later ideas pay off with depth and data.

# %% [markdown]
# ## Exercises
# ### Exercise 05.3
# How many weights (no biases) do **three** stacked 3×3 convolutions with C = 64 channels in and
# out have? (They see a 7×7 patch, like one 7×7 convolution with 49·C² weights.)

# %%
# EXERCISE 05.3
answer_1 = None   # an int

# %%
# NBVAL_CHECK_OUTPUT
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
check(answer_2, inputs[-1] + 32, exercise="05.4",
      hint=["each layer keeps all the channels it received and adds k new ones.",
            "count layer by layer: 64 channels go in; how many come out of layer 1? of layer 2?"]);

# %% [markdown]
# ## Summary
# * VGG: 3×3 stacks (13 conv layers in VGG-16), simple and costly.
# * Inception: parallel branches with 1×1 bottlenecks; torchvision's versions use BatchNorm and
#   Dropout.
# * DenseNet: ResNet's shortcut idea with concatenation: fewer parameters, more activation memory.
# * Measured side by side, accuracy per FLOP rose from AlexNet to ResNet-50 and DenseNet-121.
