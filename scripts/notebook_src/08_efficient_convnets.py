# %% [markdown]
# # 08 · Efficient convnets: depthwise-separable convolution, MobileNetV2, squeeze-and-excitation, ConvNeXt
#
# The course so far stops at DenseNet (2017). Every CNN since builds on a few more ideas: convolutions
# that filter each channel alone (*depthwise*) and mix channels with cheap 1×1s, inverted
# residual blocks, channel attention, and ConvNeXt's modernised ResNet block. They cut FLOPs
# a lot, and lesson 05 left a question open: is accuracy per FLOP the right way to compare
# networks? In this lesson you will
#
# 1. write a depthwise convolution from scratch, count what depthwise-separable convolution
#    saves, and see grouped convolution as the general case (ResNeXt, AlexNet's two GPUs);
# 2. build MobileNetV2's inverted residual block and squeeze-and-excitation, each equal to
#    torchvision's given the same weights;
# 3. build ConvNeXt's block, equal to torchvision's, and walk from ResNet's block to it one
#    change at a time;
# 4. profile five efficient torchvision models beside lesson 05's and **measure where FLOPs
#    and time part ways** on this CPU (a roofline), then draw accuracy against compute as a
#    frontier;
# 5. train a small MobileNetV2-style and ConvNeXt-style net in a fixed time budget beside
#    lesson 04's ResNet, over five seeds, judged on a validation split.

# %%
try:
    import cnnedu  # noqa: F401 (the package itself, even if a submodule was imported)
    from cnnedu.lesson import start_lesson
except ModuleNotFoundError as err:   # say how to install the course, not only what is missing
    raise ModuleNotFoundError(
        f"{err}. This lesson needs the course's package, cnnedu, in this kernel's Python. In a "
        "clone of the course: ./course.sh lab. Elsewhere, in a cell: %pip install followed by "
        "the cnnedu wheel or folder you were given; then Kernel > Restart Kernel.") from None

QUICK = None   # True: quick mode (each training cut to a few batches); None: CNNEDU_QUICK decides
QUICK, device = start_lesson(QUICK)
from cnnedu.budget import FAMILY_BUDGET_S, FAMILY_SEEDS  # noqa: E402 (after the install check)

REPEATS = 1 if QUICK else 3           # timed forwards per model (latency) and per layer
BUDGET_S = 1 if QUICK else FAMILY_BUDGET_S   # training seconds per run in section 6 (15 s)
SEEDS = (0, 1) if QUICK else FAMILY_SEEDS     # five seeds in full mode

# %% [markdown]
# ## 1. Depthwise convolution: one kernel per channel
# An ordinary convolution (lesson 02) computes every output channel from **all** input
# channels: C' kernels of size C × k × k. A **depthwise** convolution gives each channel its
# own k × k kernel and never mixes channels: output channel c is input channel c filtered.
# In PyTorch that is `nn.Conv2d(C, C, k, groups=C)`.
#
# `cnnedu.models.efficient.depthwise_conv2d` writes it from scratch with `unfold` (lesson
# 02's exercise 02.1), one matrix product per group. Checked against PyTorch:

# %%
# NBVAL_CHECK_OUTPUT
import torch
import torch.nn.functional as F

from cnnedu.models.efficient import depthwise_conv2d, grouped_conv2d

gen = torch.Generator().manual_seed(0)
for c, k, stride, padding in [(3, 3, 1, 1), (32, 7, 1, 3), (16, 3, 2, 1)]:
    x = torch.randn(2, c, 20, 20, generator=gen)
    w = torch.randn(c, 1, k, k, generator=gen)
    gap = (depthwise_conv2d(x, w, stride=stride, padding=padding)
           - F.conv2d(x, w, stride=stride, padding=padding, groups=c)).abs().max().item()
    print(f"C={c:2d}, {k}x{k}, stride {stride}: equal to F.conv2d(groups=C) to 1e-5: {gap < 1e-5}")

# %% [markdown]
# ### A depthwise step on an RGB photo
# Lesson 02's kernel explorer works on one grey channel. Its colour mode takes a photo's three
# channels and one kernel per channel. In **depthwise** mode (`groups=3`) output channel c is
# input channel c filtered by kernel c: red gets a vertical-edge kernel (Sobel x), green a
# blur, blue a horizontal-edge kernel (Sobel y), unless you pick others.
#
# **Point at a pixel of an output channel**: its window is outlined on *that* input channel
# only, and below you see that channel's window × its kernel = the products, whose sum is the
# output pixel; no other channel takes part. Switch the **mode** to *dense* to compare with the
# ordinary convolution of lesson 02: one output channel, whose value is the three channels'
# window sums added up (the window is then outlined on all three input channels).
#
# * **Try this:** pick `chelsea` (the cat), depthwise: point at the whiskers in output channel
#   0 and then at the same place in output channel 2: which input channel does the zoom panel
#   read each time, and which kernel?
# * **Try this:** dense, set all three kernels to `box blur`: point at a pixel; why are the
#   output values in the zoom panel larger than any one input channel's? (The output panel is
#   scaled to its own range, so its brightness alone does not show it.)

# %%
from cnnedu.widgets.rgb_kernel_explorer import RGBKernelExplorer

rgb_explorer = RGBKernelExplorer(photo_size=128 if QUICK else 256)
rgb_explorer

# %% [markdown]
# The explorer computes with PyTorch's own convolution; checked here against the from-scratch
# `depthwise_conv2d` above, on the photo it shows, in both modes:

# %%
# NBVAL_CHECK_OUTPUT
photo = rgb_explorer.images[rgb_explorer.image.value][None]      # (1, 3, H, W) in [0, 1]
for mode in ("depthwise", "dense"):
    rgb_explorer.mode.value = mode
    weight = rgb_explorer.weight()
    if mode == "depthwise":
        ours = depthwise_conv2d(photo, weight, padding=1)
    else:   # dense: the sum over channels of each channel filtered alone
        ours = depthwise_conv2d(photo, weight.transpose(0, 1), padding=1).sum(1, keepdim=True)
    print(f"{mode:9s}: weight {tuple(weight.shape)}, output channels "
          f"{rgb_explorer.output.shape[0]}, equal to the from-scratch result to 1e-5: "
          f"{(ours[0] - rgb_explorer.output).abs().max().item() < 1e-5}")
rgb_explorer.mode.value = "depthwise"

# %% [markdown]
# Depthwise filtering alone cannot combine colours (or features). MobileNet (Howard et al.,
# 2017) follows it with a **pointwise** 1×1 convolution that mixes channels: together a
# *depthwise-separable* convolution. Its weights, for C in and C' out channels:
#
# * dense k×k convolution: k²·C·C'
# * depthwise k×k + pointwise 1×1: k²·C + C·C', a fraction 1/C' + 1/k² of the dense count.
#
# Checked by formula and by the course's counters (`count_params`, and PyTorch's FLOP counter
# through `layer_table`), for C = 64, C' = 128, 3×3, on a 56×56 map:

# %%
# NBVAL_CHECK_OUTPUT
from torch import nn

from cnnedu.layer_table import count_params, format_table, layer_table, total_flops
from cnnedu.models.efficient import depthwise_separable

C, C_out, k, size = 64, 128, 3, 56
dense = nn.Conv2d(C, C_out, k, padding=1, bias=False)
separable = depthwise_separable(C, C_out, k)
shape = (1, C, size, size)
print(f"dense      weights: formula {k * k * C * C_out:7,}  counted {count_params(dense):7,}")
print(f"separable  weights: formula {k * k * C + C * C_out:7,}  counted {count_params(separable):7,}")
print(f"FLOPs (2 per multiply-add): dense {total_flops(dense, shape) / 1e6:.1f} M, "
      f"separable {total_flops(separable, shape) / 1e6:.1f} M "
      f"(formula 2·H·W·(k²·C + C·C') = {2 * size * size * (k * k * C + C * C_out) / 1e6:.1f} M)")
print(f"separable / dense = {count_params(separable) / count_params(dense):.4f}; "
      f"1/C' + 1/k² = {1 / C_out + 1 / k**2:.4f}")
print(format_table(layer_table(separable, shape)))

# %% [markdown]
# Close to k² = 9 times fewer weights and FLOPs for a 3×3 kernel and many output channels (the
# ratio above; with few output channels the 1/C' term grows and the saving shrinks): almost all
# of the cost moves into the 1×1 convolution. Section 5 measures whether the *time* falls as much.

# %% [markdown]
# ### Exercise 08.1 (code): count a depthwise-separable convolution
# Write `depthwise_separable_params(cin, cout, k)`: the number of weights of
# `depthwise_separable(cin, cout, k)` (a depthwise k×k conv on `cin` channels, then a 1×1
# conv to `cout`, no biases), from the formula, without building it. The check compares with
# `count_params` of the real module for five sizes; `solution("08.1")` shows one.

# %%
# EXERCISE 08.1
def depthwise_separable_params(cin, cout, k):
    """Weights of depthwise_separable(cin, cout, k)."""
    raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check, check_code, solution  # noqa: F401 (solution: yours to call)

check_code("08.1", depthwise_separable_params);

# %% [markdown]
# ### Grouped convolution: the general case
# `groups = g` cuts the channels into g slices and convolves each slice separately:
# k²·C·C'/g weights. g = 1 is the ordinary convolution, g = C the depthwise one, and the
# values between have a history:
#
# * **AlexNet (2012)** was trained on two GPUs of 3 GB; its 2nd, 4th and 5th convolutions saw
#   only the channels on their own GPU, which is `groups=2` (lesson 02's `alexnet_2012`);
# * **ResNeXt (Xie et al., 2017)** made it a design choice: its 3×3 convolutions have 32
#   groups ("cardinality"), more channels for the same cost.
#
# `grouped_conv2d` (from scratch, one product per group) against PyTorch, and the groups
# found in the two models:

# %%
# NBVAL_CHECK_OUTPUT
import torchvision.models as tvm

from cnnedu.models.alexnet import alexnet_2012

for g in (1, 2, 4, 8):
    x, w = torch.randn(2, 8, 9, 9, generator=gen), torch.randn(16, 8 // g, 3, 3, generator=gen)
    gap = (grouped_conv2d(x, w, padding=1, groups=g) - F.conv2d(x, w, padding=1, groups=g)).abs().max()
    conv = nn.Conv2d(8, 16, 3, groups=g, bias=False)
    print(f"groups={g}: equal to F.conv2d: {gap.item() < 1e-5}; weights {count_params(conv):4d} "
          f"= 9·8·16/{g}")
print("AlexNet (2012) conv groups:",
      [m.groups for m in alexnet_2012().modules() if isinstance(m, nn.Conv2d)])
resnext = tvm.resnext50_32x4d()
print("ResNeXt-50 32x4d, first block's 3x3:", resnext.layer1[0].conv2)

# %% [markdown]
# ## 2. MobileNetV2's inverted residual and the linear bottleneck
# ResNet-50's bottleneck block goes wide → narrow → wide (1×1 down, 3×3, 1×1 up) and adds
# the input at the wide ends. MobileNetV2 (Sandler et al., 2018) inverts it: **narrow →
# wide → narrow**, with the 3×3 made depthwise, which is cheap even on many channels:
#
# 1. 1×1 *expansion* to t·C channels (t = 6 in MobileNetV2's blocks, except the first, whose
#    t = 1 has no expansion layer: printed below), BatchNorm, ReLU6;
# 2. 3×3 *depthwise* convolution (the block's stride), BatchNorm, ReLU6;
# 3. 1×1 *projection* back to C' channels, BatchNorm, and **no activation**: the *linear
#    bottleneck*. The paper argues (and its ablation supports) that a ReLU in the narrow space
#    destroys information that the next block cannot get back.
#
# The input is added back only where the shapes agree (stride 1, C = C'). ReLU6 is
# min(max(x, 0), 6), chosen to behave well in low-precision arithmetic.
# `cnnedu.models.efficient.InvertedResidual` builds it with torchvision's layer names, so the
# blocks of torchvision's `mobilenet_v2` (random weights and BatchNorm statistics, no
# download) load into ours:

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises.lesson04 import randomise
from cnnedu.models.efficient import InvertedResidual

mobilenet_v2 = tvm.mobilenet_v2()
for index in (1, 2, 3, 7):
    theirs = randomise(mobilenet_v2.features[index], seed=index).eval()
    convs = [m for m in theirs.modules() if isinstance(m, nn.Conv2d)]
    inp, oup, hidden = convs[0].in_channels, convs[-1].out_channels, convs[-2].out_channels
    stride = max(m.stride[0] for m in convs)
    ours = InvertedResidual(inp, oup, stride, hidden // inp).eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, inp, 28, 28, generator=gen)
    with torch.no_grad():
        gap = (ours(x) - theirs(x)).abs().max().item()
    print(f"features[{index}]: {inp:3d} -> {hidden:3d} -> {oup:3d}, stride {stride}, residual "
          f"{ours.use_res_connect!s:5s} | equal to torchvision's to 1e-5: {gap < 1e-5}")

# %% [markdown]
# ### Exercise 08.2 (code): the inverted residual block
# Write `MyInvertedResidual(inp, oup, stride, expand_ratio)` as an `nn.Module`, named like
# torchvision's so its weights load: `self.conv = nn.Sequential(...)` holding
#
# * (only if `expand_ratio != 1`) a unit `nn.Sequential(1×1 Conv2d inp → hidden, BatchNorm2d,
#   ReLU6)` with hidden = `round(inp * expand_ratio)`;
# * a unit `nn.Sequential(3×3 depthwise Conv2d hidden → hidden with the stride and padding 1,
#   BatchNorm2d, ReLU6)`;
# * the projection: a 1×1 `Conv2d` hidden → oup, then a `BatchNorm2d`.
#
# No convolution has a bias. `forward` adds x back when stride is 1 and inp == oup. The check
# loads torchvision's block (random weights) into yours and compares outputs over six cases.

# %%
# EXERCISE 08.2
class MyInvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        raise NotImplementedError("your code here")

    def forward(self, x):
        raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check_code

check_code("08.2", MyInvertedResidual);

# %% [markdown]
# ## 3. Squeeze-and-excitation: channel attention
# Squeeze-and-excitation (Hu et al., 2018) lets a block reweight its channels by what the whole
# image contains: average each channel to one number (*squeeze*), pass the C numbers through a
# small two-layer net (C → C/r → C), and multiply each channel by the result, a number in
# (0, 1) with the sigmoid, in [0, 1] with MobileNetV3's hard sigmoid (*excitation*). MobileNetV3 and EfficientNet put it inside their inverted residuals.
# `cnnedu.models.efficient.SqueezeExcitation` against the SE modules found inside
# torchvision's `mobilenet_v3_large` (ReLU, hard sigmoid) and `efficientnet_b0` (SiLU, sigmoid):

# %%
# NBVAL_CHECK_OUTPUT
from torchvision.ops import SqueezeExcitation as TvSqueezeExcitation

from cnnedu.models.efficient import SqueezeExcitation

mobilenet_v3 = tvm.mobilenet_v3_large()
efficientnet_b0 = tvm.efficientnet_b0()
for name, model in [("mobilenet_v3_large", mobilenet_v3), ("efficientnet_b0", efficientnet_b0)]:
    found = [m for m in model.modules() if isinstance(m, TvSqueezeExcitation)]
    theirs = found[0]
    ours = SqueezeExcitation(theirs.fc1.in_channels, theirs.fc1.out_channels,
                             type(theirs.activation), type(theirs.scale_activation))
    ours.load_state_dict(randomise(theirs).state_dict())
    x = torch.randn(2, theirs.fc1.in_channels, 14, 14, generator=gen)
    gap = (ours(x) - theirs(x)).abs().max().item()
    print(f"{name}: {len(found)} SE modules; the first {theirs.fc1.in_channels} -> "
          f"{theirs.fc1.out_channels} -> {theirs.fc2.out_channels}, "
          f"{type(theirs.activation).__name__}/{type(theirs.scale_activation).__name__}, "
          f"{count_params(ours):,} parameters | equal to torchvision's to 1e-5: {gap < 1e-5}")
    channels = theirs.fc1.in_channels
    depthwise_3x3 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
    print(f"   FLOPs on a 14x14 map: this SE {total_flops(ours, (1, channels, 14, 14)):,}, "
          f"a 3x3 depthwise conv {total_flops(depthwise_3x3, (1, channels, 14, 14)):,}")

# %% [markdown]
# SE costs parameters (two small fully connected layers) but almost no FLOPs (the lines
# above): its two layers work on C numbers per image, not on C·H·W values. The averaging and
# the rescaling, which PyTorch's counter leaves out, touch each value once: cheap in FLOPs,
# but memory traffic, which section 5 shows to matter for depthwise layers.

# %% [markdown]
# ### Exercise 08.3
# How many parameters does `SqueezeExcitation(96, 24)` have? (fc1 and fc2 are 1×1
# convolutions *with* bias.)

# %%
# EXERCISE 08.3
answer_1 = None   # an int

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check
from cnnedu.layer_table import count_params
from cnnedu.models.efficient import SqueezeExcitation

check(answer_1, count_params(SqueezeExcitation(96, 24)), exercise="08.3",
      hint=["fc1 maps 96 channels to 24 (a weight per pair, plus one bias per output), fc2 "
            "maps 24 back to 96."]);

# %% [markdown]
# ## 4. ConvNeXt: a ResNet block, modernised
# ConvNeXt (Liu et al., 2022) asked how far a plain convnet gets with the design choices of
# vision transformers. Its block: a **7×7 depthwise** convolution, **LayerNorm** over the
# channels of each pixel, a 1×1 up to **4×** the channels, **GELU**, a 1×1 back, and a learned
# per-channel **layer scale** (started at 1e-6, so every block starts close to the identity)
# before the residual addition. `cnnedu.models.efficient.ConvNeXtBlock` against torchvision's
# `CNBlock` from `convnext_tiny` (eval mode; stochastic depth, which in training skips a
# block's residual branch at random, per sample, is off):

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.models.efficient import ConvNeXtBlock

convnext_tiny = tvm.convnext_tiny()
theirs = randomise(convnext_tiny.features[1][0]).eval()      # a 96-channel CNBlock
with torch.no_grad():
    theirs.layer_scale.normal_(generator=gen)                 # a tiny scale would hide errors
ours = ConvNeXtBlock(96).eval()
ours.load_state_dict(theirs.state_dict())
x = torch.randn(2, 96, 14, 14, generator=gen)
with torch.no_grad():
    gap = (ours(x) - theirs(x)).abs().max().item()
print("same layer names:", sorted(ours.state_dict()) == sorted(theirs.state_dict()))
print(f"equal to torchvision's CNBlock to 1e-5: {gap < 1e-5}; parameters {count_params(ours):,}")

# %% [markdown]
# ### From ResNet's block to ConvNeXt's, one change at a time
# The paper reached this block in steps from ResNet-50, measuring ImageNet accuracy after each.
# At the level of one block the steps are the fields of `cnnedu.models.convnext_path.BlockDesign`;
# `PATH` lists the designs in order, each differing from the one before in exactly **one**
# field. For a block with 96 channels on a 56×56 map (ConvNeXt-T's first stage), each step's
# parameters, FLOPs and CPU time (median of a few forwards of 8 maps):

# %%
from cnnedu.models.convnext_path import PATH, DesignBlock
from cnnedu.profiling import median_latency_ms

path_rows = []
previous = None
for step, (change, design) in enumerate(PATH):
    block = DesignBlock(96, design)
    edit = "" if previous is None else ", ".join(
        f"{f}: {getattr(previous, f)} -> {getattr(design, f)}" for f in design.__dataclass_fields__
        if getattr(previous, f) != getattr(design, f))
    path_rows.append((step, change, edit, count_params(block), total_flops(block, (1, 96, 56, 56)),
                      median_latency_ms(block, (8, 96, 56, 56), repeats=REPEATS)))
    previous = design
print(f"{'step':4s} {'change':58s} {'params':>8s} {'MFLOPs':>7s} {'ms (8 maps)':>11s}")
for step, change, edit, params, flops, ms in path_rows:
    print(f"{step:4d} {change:58s} {params:8,} {flops / 1e6:7.0f} {ms:11.1f}")
    if edit:
        print(f"{'':5s}code change: {edit}")

# %% [markdown]
# Read the columns side by side. Making the 3×3 depthwise cuts FLOPs, the inverted bottleneck
# (4× wider inside than at its ends) raises them again: here the block's ends keep their
# channels, so its inside grows from a quarter of them to four times, 16× wider. (The paper
# narrowed the block's ends at the same time, Fig. 3, and its whole network's FLOPs fell
# slightly.) Moving the depthwise conv up (before the 1×1s, so it
# runs on the narrow channels, not the 4× wider ones) lowers them, and the 7×7 kernel costs little, because a
# depthwise kernel's FLOPs grow with k² times C, not k² times C². The steps after the 7×7
# kernel leave the FLOPs where they are (the MFLOPs column); in the paper, fewer activations,
# fewer norms and LayerNorm each raised ImageNet accuracy a little while GELU alone did not, and
# layer scale belongs to its training setup rather than its roadmap. Their time is another
# matter: read the last column, which is not proportional to FLOPs. It is the median of a few
# repeats on a shared machine, so a step of a few per cent is noise; and memory layout counts
# too: `LayerNorm2d` (step 8) permutes to channels-last and back, which leaves the following
# 1×1 convolutions a channels-last tensor, part of that step's drop. The last design *is*
# ConvNeXt's block:

# %%
# NBVAL_CHECK_OUTPUT
from torchvision.models.convnext import CNBlock

from cnnedu.models.convnext_path import to_torchvision_cnblock

last = randomise(DesignBlock(96, PATH[-1][1])).eval()
with torch.no_grad():
    last.layer_scale.normal_(generator=gen)
cnblock = CNBlock(96, layer_scale=1e-6, stochastic_depth_prob=0.0).eval()
cnblock.load_state_dict(to_torchvision_cnblock(last))
with torch.no_grad():
    ours, theirs = last(x), cnblock(x)
# relative to the outputs' size (up to about 25 here): float32 sums in another order, as with
# more threads, differ by a few units of its last digit
gap = ((ours - theirs).abs().max() / theirs.abs().max()).item()
print(f"step {len(PATH) - 1} equals torchvision's CNBlock given the same weights (relative "
      f"difference < 1e-5): {gap < 1e-5}; same parameter count: "
      f"{count_params(last) == count_params(cnblock)}")

# %% [markdown]
# ## 5. Measured: where FLOPs and time part ways
# ### The efficient models beside lesson 05's
# The same `compare` table as lesson 05 (convolutions, parameters, FLOPs, saved activations for
# one training image, median CPU latency for one image), with five later models: MobileNetV2
# (2018), MobileNetV3-Large (2019, SE and hard-swish, found by architecture search),
# EfficientNet-B0 (2019, SE, also found by architecture search), RegNetY-400MF (2020, grouped
# convolutions and SE, a designed family) and ConvNeXt-T (2022). Random weights (no download);
# the ImageNet top-1 is read from torchvision's weight metadata (`IMAGENET1K_V1` for every
# model, as in lesson 05).

# %% [markdown]
# ⏱ **About a minute** in full mode on a 2-core CPU (twelve models).

# %%
from cnnedu.profiling import compare, profiles_text

old = ["alexnet", "vgg16", "googlenet", "inception_v3", "resnet18", "resnet50", "densenet121"]
new = ["mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "regnet_y_400mf", "convnext_tiny"]
names = old + new
built = {"mobilenet_v2": mobilenet_v2, "mobilenet_v3_large": mobilenet_v3,
         "efficientnet_b0": efficientnet_b0, "convnext_tiny": convnext_tiny,
         "googlenet": tvm.googlenet(aux_logits=False, init_weights=False),
         "inception_v3": tvm.inception_v3(aux_logits=False, init_weights=False)}
models = {n: built.get(n) or tvm.get_model(n) for n in names}
shapes = {n: (1, 3, 299, 299) if n == "inception_v3" else (1, 3, 224, 224) for n in names}
profiles = compare(models, shapes, device="cpu", repeats=REPEATS)
meta = {n: tvm.get_model_weights(n).IMAGENET1K_V1.meta for n in names}
top1 = {n: meta[n]["_metrics"]["ImageNet-1K"]["acc@1"] for n in names}
speed = {n: profiles[n].flops / (profiles[n].latency_ms / 1e3) / 1e9 for n in names}
print(profiles_text(profiles, {n: {"top-1 %": f"{top1[n]:.1f}", "GFLOP/s": f"{speed[n]:.1f}"}
                               for n in names}))

# %%
# NBVAL_CHECK_OUTPUT
for n in new:
    print(f"{n:18s} convs {profiles[n].conv2d_count:3d} | our FLOPs / 2 = "
          f"{profiles[n].flops / 2e9:5.2f} G multiply-adds | torchvision's '_ops': "
          f"{meta[n]['_ops']:5.2f} | top-1 {top1[n]:.2f} %")

# %% [markdown]
# The last column of the table is the speed each model reaches on this CPU: its FLOPs divided
# by its latency. The question of this section in one line: do fewer FLOPs mean less time?

# %%
def flops_and_time(a, b):
    pa, pb = profiles[a], profiles[b]
    return (f"{a} vs {b}: {pb.flops / pa.flops:.1f}x fewer FLOPs, "
            f"{pb.latency_ms / pa.latency_ms:.1f}x less time")


print(flops_and_time("mobilenet_v2", "resnet50"))
print(flops_and_time("efficientnet_b0", "resnet50"))
print(flops_and_time("mobilenet_v2", "resnet18"))
slower = [n for n in new if speed[n] < min(speed[m] for m in ("resnet18", "resnet50", "vgg16"))]
print("efficient models running at fewer GFLOP/s than ResNet-18, ResNet-50 and VGG-16:", slower)

# %% [markdown]
# The efficient models do far fewer FLOPs than ResNet-50, but their time falls by much less
# (the ratios above, from your run): each of their FLOPs takes longer. Why? Look at the layers.

# %% [markdown]
# ### The roofline of this machine
# A layer does F FLOPs and has to move at least B bytes (read its input and weights, write
# its output). Its **arithmetic intensity** I = F / B says how much work it does per byte.
# A machine that computes at most P FLOP/s and moves at most W bytes/s cannot run the layer
# faster than min(P, I·W): the *roofline* (Williams, Waterman and Patterson, 2009). Below the
# *ridge point* P / W the memory is the limit, above it the arithmetic.
#
# `cnnedu.roofline` measures P as the speed of a large fp32 matrix product and W as that of
# copying a 256 MiB tensor, then times four kinds of layer (batch 8, 96 channels, 56×56, as in
# ConvNeXt-T's first stage): a dense 3×3, a 1×1, a depthwise 3×3 and a
# depthwise 7×7. The figures are this machine's, measured now (on a busy machine they drop).
# The matrix-product "peak" is a practical one, not the chip's datasheet figure, so a
# convolution can land above 100 % of it: the two run through different library code, and how
# far apart they are depends on the CPU.

# %%
from cnnedu import roofline
from cnnedu.roofline import ConvSpec

peak = roofline.matmul_peak_gflops(repeats=REPEATS)
bandwidth = roofline.copy_bandwidth_gbs(repeats=REPEATS)
specs = [ConvSpec("dense 3x3", 96, 96, 3), ConvSpec("1x1", 96, 96, 1),
         ConvSpec("depthwise 3x3", 96, 96, 3, groups=96),
         ConvSpec("depthwise 7x7", 96, 96, 7, groups=96)]
measured = [roofline.measure_conv(s, repeats=REPEATS) for s in specs]
print(f"fp32 matmul peak {peak:.0f} GFLOP/s | copy bandwidth {bandwidth:.1f} GB/s | "
      f"ridge point {roofline.ridge_point(peak, bandwidth):.1f} FLOP/byte")
print(f"{'layer':14s} {'MFLOPs':>8s} {'MB moved':>9s} {'FLOP/byte':>10s} {'GFLOP/s':>8s} "
      f"{'% of roof':>10s} {'% of peak':>10s}")
for m in measured:
    roof = roofline.attainable_gflops(m.spec.intensity, peak, bandwidth)
    print(f"{m.spec.name:14s} {m.spec.flops / 1e6:8.0f} {m.spec.bytes_moved / 1e6:9.1f} "
          f"{m.spec.intensity:10.1f} {m.gflops:8.1f} {m.gflops / roof:10.0%} {m.gflops / peak:10.0%}")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(8, 5))
roofline.plot_roofline(ax, measured, peak, bandwidth)

# %%
# NBVAL_CHECK_OUTPUT
by_name = {m.spec.name: m for m in measured}
print("depthwise 3x3: fewer FLOP per byte than dense 3x3:",
      by_name["depthwise 3x3"].spec.intensity < by_name["dense 3x3"].spec.intensity)
print("FLOPs, dense 3x3 / depthwise 3x3:",
      f"{by_name['dense 3x3'].spec.flops / by_name['depthwise 3x3'].spec.flops:.0f}x")

# %%
dense_speed, dw_speed = by_name["dense 3x3"].gflops, by_name["depthwise 3x3"].gflops
print(f"time, dense 3x3 / depthwise 3x3: "
      f"{by_name['dense 3x3'].seconds / by_name['depthwise 3x3'].seconds:.1f}x")
print(f"depthwise 3x3 runs at {dw_speed / dense_speed:.0%} of the dense 3x3's GFLOP/s")

# %% [markdown]
# **What the roofline shows.** A depthwise 3×3 does C' = 96 times fewer FLOPs than the dense
# 3×3 on the same map but reads and writes the same activations, so its intensity is far
# lower, far below the ridge point: the roofline caps it by memory, and in practice it reaches
# only part even of that cap, while the depthwise 7×7, whose intensity is higher, still runs
# far below the peak (the percentages above; they depend on this machine and its load). Its
# time falls by much less than its FLOPs. The same holds for whole networks: MobileNetV2's
# time falls much less than its FLOPs against ResNet-50 (both ratios are printed after the
# table above). Memory-bound work is the likely explanation, though this lesson does not
# separate its parts: the depthwise convolutions' low intensity and their less optimised
# kernels, and the BatchNorm and ReLU6 layers that read and write the 6× expanded activations
# with little arithmetic per byte. FLOPs count arithmetic; time also pays for memory
# traffic, and for the number of separate layers (each has a fixed overhead).

# %% [markdown]
# ### Accuracy against compute: the frontier
# Lesson 05 printed top-1 per GFLOP falling from AlexNet to ResNet-50, and warned that the ratio
# favours cheap models over accurate ones. So it is the wrong question. A designer asks: **for
# this much compute, how accurate can a network be?** The answer is the *frontier*
# (`cnnedu.frontier.pareto_front`): the models that no other model matches or beats on both
# accuracy and cost while beating them on one. (Two models can tie to the digits printed; the
# frontier is decided on the unrounded values.) Same caveat as lesson 05, stronger: V1 weights
# are a model's *first* torchvision weights, and the later models were trained with the better
# recipes of their time (ConvNeXt's: AdamW, long training, strong augmentation; AlexNet's and
# ResNet-50's V1: 90 epochs of SGD, torchvision's reference recipes). The ConvNeXt paper
# measured the recipe alone on ResNet-50: 76.1 → 78.8 % (Liu et al., 2022, section 2.1). The
# recipe each V1 entry was trained with:

# %%
# NBVAL_CHECK_OUTPUT
for n in ("alexnet", "resnet50", "mobilenet_v2", "efficientnet_b0", "convnext_tiny"):
    print(f"{n:16s} {meta[n]['recipe']}")

# %%
from cnnedu.frontier import pareto_front

gflops = {n: profiles[n].flops / 1e9 for n in names}
front_flops = pareto_front({n: (gflops[n], top1[n]) for n in names})
front_time = pareto_front({n: (profiles[n].latency_ms, top1[n]) for n in names})
fig, axes = plt.subplots(1, 2, figsize=(15, 5))
for ax, cost, front, label in [(axes[0], gflops, front_flops, "GFLOPs per image (log)"),
                               (axes[1], {n: profiles[n].latency_ms for n in names}, front_time,
                                "CPU latency per image, ms (log)")]:
    for n in names:
        ax.scatter(cost[n], top1[n], color="C1" if n in new else "C0", s=40)
        ax.annotate(n, (cost[n], top1[n]), fontsize=8, xytext=(4, 3), textcoords="offset points")
    ax.step([cost[n] for n in front], [top1[n] for n in front], where="post", color="gray",
            linestyle="--", label="frontier")
    ax.set(xscale="log", xlabel=label, ylabel="ImageNet top-1 % (V1 weights)", ylim=(54, 85))
    ax.legend(loc="lower right")
axes[0].set_title("accuracy vs FLOPs (orange: this lesson's models)")
axes[1].set_title("accuracy vs time on this CPU")
fig.tight_layout()
print("frontier by FLOPs:", " -> ".join(front_flops))
print("frontier by CPU time:", " -> ".join(front_time))
latency = {n: profiles[n].latency_ms for n in names}
print(f"costliest / cheapest of the twelve: {max(gflops.values()) / min(gflops.values()):.0f}x "
      f"in FLOPs, {max(latency.values()) / min(latency.values()):.0f}x in CPU time")

# %%
# NBVAL_CHECK_OUTPUT
print("frontier by FLOPs:", " -> ".join(front_flops))
print("every model on it is from this lesson:", set(front_flops) <= set(new))
print("lesson 05's models beaten on both accuracy and FLOPs by one of this lesson's:",
      [o for o in old if any(gflops[n] <= gflops[o] and top1[n] > top1[o] for n in new)])

# %% [markdown]
# **What the frontier shows.** By FLOPs, the frontier is made of this lesson's models only
# (printed above): every one of lesson 05's models is beaten on both accuracy and FLOPs by a
# later one. So accuracy for a given FLOP count *did* rise a lot from lesson 05's models to
# these (with their V1 weights, architecture and training recipe changed together, and this
# table cannot say how much each contributed); lesson 05's falling
# "accuracy per FLOP" said only that larger models spend more per point, not that the field
# stood still. By CPU *time* (the right-hand plot and its printed frontier, from your run) the
# models sit closer together: compare the two cost ratios printed under the plots. The cheap
# models lose part of their FLOP advantage, for the reason the roofline showed. Both axes are
# worth reading; neither is accuracy per FLOP.

# %% [markdown]
# ## 6. Small versions, trained in the same time budget
# `cnnedu.models.efficient_small` holds a MobileNetV2-style net (inverted residuals) and a
# ConvNeXt-style net (patchify stem, ConvNeXt blocks) for 28×28 images. They are trained beside
# lesson 04's ResNet-8 mini exactly as in lesson 05's comparison: lesson 05's recipe (AdamW
# with lr 3e-3 and weight decay 0.05, batches of 128, label smoothing 0.1, random flips and
# shifts of up to 2 pixels), its time budget (`BUDGET_S`, 15 s of training per run,
# enforced in time: the one-cycle learning rate follows the clock and no step starts once the
# time is spent), its five seeds and its **validation split** (5,000 training images, 500 per
# class, held out by `cnnedu.splits.hold_out`; the test images stay unused). The ResNet-8 mini
# is trained again with the same settings; because the budget is in time, its step count and
# accuracy differ a little from lesson 05's, and the two new nets join that comparison.
#
# First the cost of one training step (batch 128) next to the FLOPs of one image:

# %%
from cnnedu.experiments import seconds_per_training_step
from cnnedu.models.efficient_small import SmallConvNeXt, SmallMobileNet
from cnnedu.models.resnet import resnet_mini

families = {"MobileNetV2-style": SmallMobileNet, "ConvNeXt-style": SmallConvNeXt,
            "ResNet-8 mini": lambda: resnet_mini(8, 16)}
step_cost = {}
print(f"{'family':18s} {'params':>8s} {'MFLOPs/image':>13s} {'ms/step':>8s} {'GFLOP/s':>8s}")
for name, build in families.items():
    model = build()
    flops = total_flops(model, (1, 1, 28, 28))
    seconds = seconds_per_training_step(build, (128, 1, 28, 28), channels_last=True,
                                        steps=2 if QUICK else 5, device=device)
    step_cost[name] = (flops, seconds)
    # a training step is about 3 forwards' worth of FLOPs (forward, and twice that backward)
    print(f"{name:18s} {count_params(model):8,} {flops / 1e6:13.1f} {seconds * 1e3:8.0f} "
          f"{3 * 128 * flops / seconds / 1e9:8.1f}")

# %%
# NBVAL_CHECK_OUTPUT
fewest = min(step_cost, key=lambda n: step_cost[n][0])
cheapest = min(step_cost, key=lambda n: step_cost[n][1])
print(f"fewest FLOPs per image: {fewest}")
print("fewer FLOPs per image than ResNet-8 mini:",
      [n for n in step_cost if step_cost[n][0] < step_cost["ResNet-8 mini"][0]])

# %%
print(f"cheapest training step on this machine: {cheapest}")
print("MobileNetV2-style step / ResNet-8 mini step: "
      f"{step_cost['MobileNetV2-style'][1] / step_cost['ResNet-8 mini'][1]:.1f}x")

# %% [markdown]
# Both new nets do fewer FLOPs per image than the ResNet (printed above); compare their step
# times above, from your machine: fewer FLOPs need not mean a cheaper training step. The likely
# reason is memory-bound work on large activations (section 5): the MobileNetV2-style net works
# at the full 28×28 in its stem and first block and widens its channels 4× inside each later
# block (the first stride-2 block still at 28×28), and BatchNorm and ReLU6 pass over those wide
# maps as well as the depthwise convolutions, while the ConvNeXt-style net, also depthwise,
# works at 14×14 from its patchify stem. To see the split on your machine, profile one step with
# `torch.profiler`; this lesson does not. (The timed runs below print their own ms per step,
# which also count the data loading and whatever else the machine is doing.) In a fixed time
# budget the step cost decides how many steps a net gets.

# %% [markdown]
# ⏱ **About 4 minutes (3 families × 5 seeds × 15 s, plus validation)** in full mode on a
# 2-core CPU (quick mode: under a minute).

# %%
from cnnedu.budget import runs_text, train_families, verdict
from cnnedu.data import FashionMNIST
from cnnedu.splits import hold_out

full_train = FashionMNIST("train")
train_set, val_set = hold_out(full_train, 500 if QUICK else 5000 if full_train.is_full else None)
runs = train_families(families, train_set, val_set, seconds=BUDGET_S, seeds=SEEDS,
                      device=device, optimizer="adamw", lr=3e-3, weight_decay=0.05,
                      label_smoothing=0.1, channels_last=True)
print(f"{len(train_set):,} training and {len(val_set):,} validation images (per class "
      f"{torch.bincount(val_set.labels).tolist()}), {BUDGET_S:g} s per run, seeds {SEEDS}\n")
print(runs_text(runs, budget=BUDGET_S))

# %%
from cnnedu.findings import full_run_found

ranking = sorted(runs, key=lambda n: -sum(r.accuracy for r in runs[n]))
print("ranking by mean validation accuracy:", " > ".join(ranking), "\n")
verdicts = {}
for a, b in [("MobileNetV2-style", "ResNet-8 mini"), ("ConvNeXt-style", "ResNet-8 mini"),
             ("MobileNetV2-style", "ConvNeXt-style")]:
    verdicts[f"{a} vs {b}"] = verdict(runs, a, b, quick=QUICK,
                                      full_run_found=full_run_found("08", f"{a} vs {b}"))
    print()

# %% [markdown]
# **What the numbers show.** Read the verdicts from your run: a family "beat" another only
# where the per-seed differences are consistent enough for the two-sided paired t-test (p <
# 0.05); otherwise the line says "not separated" and the difference is within the
# seed-to-seed noise. A line can say "ahead in 5 of 5 seeds" and still "not separated": the
# t-test also weighs how much the differences vary, and with five seeds even a sign test could
# do no better than p = 2/32 for five of five. The ranking line orders the means only; where a
# pair is not separated, its order there is not a finding. Read the steps column too: in the
# run stored here the three got very different numbers of steps, the MobileNetV2-style net
# about a quarter of ResNet-8 mini's, so these verdicts mix architecture and step cost; this
# experiment does not separate the two. On ImageNet, at 224×224 and with long training,
# the same blocks give the frontier of section 5; at 28×28 in seconds they need not.

# %% [markdown]
# ### Figures quoted from the literature
# The numbers this lesson quotes from papers (no cell of ours can measure them), each with its
# source:

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.facts import show_facts

show_facts("08")

# %% [markdown]
# ## Summary
# * A depthwise convolution (`groups = C`) filters each channel alone; followed by a 1×1 it is
#   a depthwise-separable convolution: k²·C + C·C' weights instead of k²·C·C'. Grouped
#   convolution is the general case (AlexNet's two GPUs, ResNeXt's 32 groups).
# * MobileNetV2's inverted residual (narrow → wide → narrow, linear projection), squeeze-and-
#   excitation and ConvNeXt's block were each built from scratch and equal torchvision's.
# * ConvNeXt's block is ResNet's bottleneck block after the nine single changes of this
#   course's path (the paper's path also changes the stem, the stage ratios, the width and the
#   downsampling).
# * FLOPs and time part ways: depthwise layers do few FLOPs per byte moved, and on this CPU they
#   ran far below the matrix-product peak (the roofline, measured here).
# * Accuracy at a given compute rose from lesson 05's models to this lesson's: every model on
#   the accuracy-vs-FLOPs frontier is a later one. Accuracy per FLOP was the wrong measure.
# * In a short CPU budget, small versions were compared over five seeds on a validation split;
#   the verdicts above say which differences the seeds support.

# %% [markdown]
# The findings of section 6 in this run, printed from its results:

# %%
print(f"{len(runs)} families, {len(SEEDS)} seeds, {BUDGET_S:g} s each, validation accuracy:")
for name in ranking:
    accs = [r.accuracy for r in runs[name]]
    print(f"  {name:18s} {sum(accs) / len(accs):.4f}")
for key, found in verdicts.items():
    print(f"{key}: {found.headline}")
