# %% [markdown]
# # 01 · Pooling: max vs average, from scratch, on real photos
#
# Pooling slides a window over a feature map and keeps one number per window: the **maximum**
# or the **average**. AlexNet, VGG and ResNet all use it to shrink feature maps. In this lesson
# you will
#
# 1. redo the classic 4×4 demo, reproducibly, and compute it by hand;
# 2. learn the output-size formula, including the corners (`ceil_mode`, dilation, padding);
# 3. *measure* what max and average pooling do to real photos (is "max keeps edges sharp" true?);
# 4. play with every setting in an interactive explorer;
# 5. see where real networks pool, and what pooling does to a one-pixel shift;
# 6. derive pooling's backward pass, write it, and train a network through it.

# %%
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
config.seed_everything(0)
PHOTO_SIZE = 256   # photos are measured at this size (the same in every mode: no training here)
print("quick mode" if QUICK else "full mode")
print(data_note())

# %% [markdown]
# ## 1. The classic demo, made reproducible
# A blog post that inspired this course printed a random 4×4 tensor and its 2×2 max pooling.
# Its tensor cannot be regenerated (no seed was given), though the post printed it (the explorer
# of section 4 offers that printed tensor); here is a seeded one of our own, which every run
# reproduces:

# %%
# NBVAL_CHECK_OUTPUT
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(1, 4, 4).random_(0, 50)   # random integers 0..49, stored as floats
print(x)
pool = nn.MaxPool2d(kernel_size=2, stride=2)
print(pool(x))

# %% [markdown]
# `cnnedu.pooling.pool2d` does the same from scratch (no call to torch's pooling functions).
# Its code fits on one screen: pad the input, then for each of the k×k positions inside a
# window take a strided view of every window's pixel there, and keep a running max (or sum).

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.pooling import pool2d

ours = pool2d(x, kernel_size=2, stride=2)
print(ours)
print("equal to nn.MaxPool2d:", torch.equal(ours, pool(x)))

# %% [markdown]
# And by reasoning about each window: with kernel 2 and stride 2 the windows are the four
# 2×2 quarters of the input; each output pixel is the largest number in its quarter.

# %%
# NBVAL_CHECK_OUTPUT
for row in range(2):
    for col in range(2):
        window = x[0, 2 * row:2 * row + 2, 2 * col:2 * col + 2]
        print(f"output[{row}, {col}] = max{window.flatten().tolist()} = {window.max().item():g}")

# %% [markdown]
# `pooling_windows` shows all windows at once as a *view* of the input (`Tensor.unfold`, no
# copy): shape (N, C, out_h, out_w, k, k). Max pooling is its `amax` over the last two axes,
# average pooling its `mean`.

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.pooling import pooling_windows

windows = pooling_windows(x[None], kernel_size=2, stride=2)
print("windows:", tuple(windows.shape))
print("max of each window:", windows.amax((-1, -2))[0, 0].tolist())
print("mean of each window:", windows.mean((-1, -2))[0, 0].tolist())
print("avg_pool2d agrees:", torch.allclose(windows.mean((-1, -2))[0], nn.AvgPool2d(2)(x)))

# %% [markdown]
# ## 2. The output-size formula
# For each dimension, with input size $n$, kernel $k$, stride $s$, padding $p$, dilation $d$:
#
# $$ n_{out} = \left\lfloor \frac{n + 2p - d\,(k-1) - 1}{s} \right\rfloor + 1 $$
#
# `ceil_mode=True` rounds up instead, **except** that a last window starting in the right
# padding (or beyond) is dropped. `d(k-1)+1` is the *effective* (dilated) kernel: a 3×3 window
# with dilation 2 spans 5×5 pixels and samples every second one.
#
# Worked examples, each checked against `nn.MaxPool2d` on a real tensor:

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.pooling import output_size
from cnnedu.shapes import sliding_formula

examples = [  # (n, kernel, stride, padding, dilation, ceil_mode, what it shows)
    (4, 2, 2, 0, 1, False, "the demo above"),
    (55, 3, 2, 0, 1, False, "AlexNet's first pooling (overlapping)"),
    (112, 3, 2, 1, 1, False, "ResNet's max pool after the 7x7 conv"),
    (7, 2, 2, 0, 1, False, "odd size: the last column is dropped"),
    (7, 2, 2, 0, 1, True, "ceil_mode keeps it"),
    (5, 2, 2, 1, 1, True, "ceil_mode: a window in the padding is dropped"),
    (9, 3, 1, 0, 2, False, "dilation 2: a 5-pixel span"),
]
for n, k, s, p, d, ceil, note in examples:
    torch_size = nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)(torch.zeros(1, n, n)).shape[-1]
    assert torch_size == output_size(n, k, s, p, d, ceil)
    print(f"{sliding_formula(n, k, s, p, d, ceil):70s} # {note}")

# %% [markdown]
# **The rules.** Not every setting is legal. PyTorch requires kernel, stride and dilation ≥ 1,
# padding ≥ 0, an output of at least one pixel, no dilation for average pooling, and
# **padding at most half the kernel** (`padding <= kernel_size // 2`). That last rule is about
# the kernel itself, not the dilated window: `kernel_size=2, dilation=3, padding=2` is rejected
# although the dilated window spans 4 pixels. `pool2d` enforces the same rules, with messages
# that say which parameter broke which rule:

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.pooling import PoolingError

illegal = [dict(kernel_size=3, padding=2), dict(kernel_size=2, padding=2, dilation=3),
           dict(kernel_size=2, stride=0), dict(kernel_size=5, dilation=2),
           dict(kernel_size=2, dilation=2, mode="avg")]
for settings in illegal:
    try:
        pool2d(torch.zeros(1, 8, 8), **settings)
    except PoolingError as err:
        print(f"{settings}\n  -> {err}")

# %% [markdown]
# ### Exercise 01.1
# ResNet-18 sees a 224×224 image. Its first convolution (kernel 7, stride 2, padding 3) gives
# 112×112; then comes `MaxPool2d(kernel_size=3, stride=2, padding=1)`. How large is the output
# of that pooling layer? Work it out with the formula, then replace `None` below. (A wrong
# answer earns a hint; `solution("01.1")` shows the worked answer.)

# %%
# EXERCISE 01.1
answer_1 = None   # your answer: an int

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check, check_code, solution  # noqa: F401 (solution: yours to call)
from cnnedu.pooling import output_size

check(answer_1, output_size(112, 3, 2, 1), exercise="01.1",
      hint=["use the formula above with in_size 112, kernel_size 3, stride 2, padding 1.",
            "divide by the stride, round *down*, and do not forget the first window (+ 1)."]);

# %% [markdown]
# ### Exercise 01.2 (code): the formula as a function
# Now write the formula yourself: `count_windows(size, kernel_size, stride, padding, dilation)`
# returns how many windows fit along one dimension (what `output_size` computes). The check cell runs your function on nine
# settings (ResNet's stem, dilation, a kernel that does not fit evenly, ...) and compares it with
# the output size of PyTorch's `F.max_pool2d`. A wrong result shows the first failing setting and,
# if it recognises the mistake, a hint.

# %%
# EXERCISE 01.2
def count_windows(size, kernel_size, stride, padding=0, dilation=1):
    """How many windows fit along one dimension of length `size`."""
    raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check_code

check_code("01.2", count_windows);

# %% [markdown]
# ### Exercise 01.3 (code): max pooling from scratch
# Write `max_pool2d(x, kernel_size, stride, padding)` for `x` of shape (N, C, H, W) and square
# windows, without `nn.MaxPool2d` or `F.max_pool2d`. A tool that helps: `t.unfold(dim, size,
# step)` cuts dimension `dim` into windows of `size` with the given `step`, and adds the window
# as a new last dimension: `torch.arange(5.).unfold(0, 3, 2)` is `[[0, 1, 2], [2, 3, 4]]`.
# Unfold the height, then the width, and reduce. Think about what value the padding should have
# so that it can never be the maximum. The check compares with `F.max_pool2d` on seven inputs:
# ties, negative values next to the padding, batch size 1, non-square images.

# %%
# EXERCISE 01.3
def max_pool2d(x, kernel_size, stride, padding=0):
    """Max pooling of x (N, C, H, W) with kernel_size x kernel_size windows."""
    raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check_code

check_code("01.3", max_pool2d);

# %% [markdown]
# ## 3. Max vs average on real photos
# The blog post said: *max pooling creates a smaller image with sharp edges; average pooling
# softens the edges.* Let's look first, then measure. What we measure here is pooling applied to
# **raw grey photos**, the blog post's setting. Inside a network, pooling acts on feature maps
# after ReLU (non-negative, mostly zero, a few strong responses), so these numbers describe
# photos, not what pooling does to a trained network's maps.

# %%
from cnnedu.images import load_photos
from cnnedu.viz import show_images

photos = load_photos(PHOTO_SIZE, gray=True)
K = 4
for name in ["brick", "chelsea", "astronaut"]:
    img = photos[name]
    show_images([img, pool2d(img, K, mode="max"), pool2d(img, K, mode="avg")],
                [f"{name} {tuple(img.shape[-2:])}", f"max pool {K}×{K}", f"avg pool {K}×{K}"],
                vmin=0, vmax=1, size=2.6);

# %% [markdown]
# Max-pooled images look crisper *and brighter*; average-pooled ones look smooth and keep the
# overall tone. To make "sharp" a number we compare each pooled image with **plain subsampling**
# (every k-th pixel, no smoothing at all), at the same size:
#
# * **edge strength**: mean gradient magnitude (how steep the edges are), relative to subsampling;
# * **mean brightness** change;
# * **dark detail kept**: the share of dark pixels (below `dark_detail_kept`'s `threshold=0.25`,
#   on a 0-1 scale) left, relative to the input.

# %%
from cnnedu.sharpness import measure_pooling

rows = [dict(photo=name, **measure_pooling(img, k)) for name, img in photos.items()
        for k in (2, 4, 8)]
print(f"{'photo':10s} {'k':>2s} | {'edge max/sub':>12s} {'edge avg/sub':>12s} | "
      f"{'mean in':>7s} {'max':>5s} {'avg':>5s} | {'dark kept max':>13s} {'avg':>5s}")
for r in rows:
    print(f"{r['photo']:10s} {r['kernel']:2d} | {r['edge_max'] / r['edge_subsample']:12.2f} "
          f"{r['edge_avg'] / r['edge_subsample']:12.2f} | {r['mean_subsample']:7.3f} "
          f"{r['mean_max']:5.3f} {r['mean_avg']:5.3f} | {r['dark_max']:13.2f} {r['dark_avg']:5.2f}"
          .replace("nan", "  -"))
print("(-: the photo has no dark pixels to keep)")

# %%
import matplotlib.pyplot as plt
import numpy as np

fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, (key, label) in zip(axes, [("edge", "edge strength / subsampling"),
                                   ("mean", "mean brightness"), ("dark", "dark pixels kept")]):
    for mode, marker in (("max", "o"), ("avg", "s")):
        values = [r[f"{key}_{mode}"] / (r["edge_subsample"] if key == "edge" else 1) for r in rows]
        ax.scatter(np.arange(len(rows)), values, marker=marker, label=mode)
    ax.set_title(label, fontsize=10)
    ax.set_xticks(np.arange(len(rows)), [f"{r['photo'][:5]} {r['kernel']}" for r in rows],
                  rotation=90, fontsize=7)
    ax.legend()
fig.tight_layout()

# %% [markdown]
# The same checks as statements, counted over every photo and kernel size:

# %%
# NBVAL_CHECK_OUTPUT
def count(condition, subset=rows):
    return f"{sum(condition(r) for r in subset)}/{len(subset)}"


with_dark = [r for r in rows if not np.isnan(r["dark_max"])]
print("avg pooling: weaker edges than plain subsampling:  ",
      count(lambda r: r["edge_avg"] < r["edge_subsample"]))
print("max pooling: stronger edges than avg pooling:       ",
      count(lambda r: r["edge_max"] > r["edge_avg"]))
print("   exceptions:", [f"{r['photo']} k={r['kernel']}" for r in rows
                         if r["edge_max"] <= r["edge_avg"]])
print("max pooling: stronger edges than plain subsampling: ",
      count(lambda r: r["edge_max"] > r["edge_subsample"]))
print("max pooling: brighter than the input:               ",
      count(lambda r: r["mean_max"] > r["mean_subsample"]))
print("max pooling: fewer dark pixels kept than avg:       ",
      count(lambda r: r["dark_max"] < r["dark_avg"], with_dark), "(photos with dark pixels)")

# %% [markdown]
# **What the numbers show.**
# * "Average pooling softens the edges": **true**, in all 18 cases its edges are weaker than
#   plain subsampling.
# * "Max pooling keeps sharp edges": **only partly**. Its edges are stronger than average
#   pooling's in 16 of 18 cases, but not on the cat with 4×4 and 8×8 windows (a likely reason,
#   not measured here: fur puts a bright hair in almost every window, so the maxima are nearly
#   uniform and the edges flatten). Against
#   plain subsampling, max pooling is sharper on half of the cases only (brick, coffee, rocket)
#   and softer on the other half.
# * What the claim leaves out: max pooling **brightens** every photo and **erases dark detail**
#   (fewer dark pixels than average pooling on every photo that has any), because in each window
#   the brightest pixel wins. The next cell shows why, on the simplest possible images.

# %%
line = torch.zeros(1, 9, 9)
line[0, :, 4] = 1.0                  # a bright line, one pixel wide
dark_line = 1.0 - line               # a dark line on white
show_images([line, pool2d(line, 3, 1, 1), dark_line, pool2d(dark_line, 3, 1, 1),
             pool2d(dark_line, 3, 1, 1, mode="avg")],
            ["bright line", "max pool 3, stride 1", "dark line", "max pool 3, stride 1",
             "avg pool 3, stride 1"], vmin=0, vmax=1, size=2.2);

# %%
# NBVAL_CHECK_OUTPUT
print("bright line width before/after max pooling:", int(line[0, 0].sum()),
      int(pool2d(line, 3, 1, 1)[0, 0].sum()))
print("darkest pixel of the dark line after max pooling:", pool2d(dark_line, 3, 1, 1).min().item())
avg_line = pool2d(dark_line, 3, 1, 1, mode="avg")
print("darkest pixel on the line after avg pooling, away from the border:",
      round(avg_line[0, 1:-1, 4].min().item(), 3))
print("darkest pixel after avg pooling, anywhere:", round(avg_line.min().item(), 3),
      "(at the border, where the zero padding is counted in the average)")

# %% [markdown]
# Max pooling with stride 1 is *grey-scale dilation* from image morphology: bright structures
# widen by k − 1 pixels (with k = 3 the one-pixel line became three pixels wide) and thin dark
# structures vanish. Average pooling keeps the dark line, as a grey smear (its darkest value on
# the line is printed above; the overall minimum sits at the border, where counted zero padding
# darkens every window). So:
# max pooling keeps **strong bright responses** (useful after ReLU, where "feature present"
# means a large positive value), not "the edges" in general.

# %% [markdown]
# ## 4. The pooling explorer
# Pick a photo, a Fashion-MNIST image or the seed post's 4×4 tensor, and change the kernel,
# stride, padding, dilation, mode and `ceil_mode`. Input and output are drawn at the same size
# (each labelled with its true size), so you can compare them by eye. **Point at any output
# pixel**: its window is outlined on the input, and the zoom panel below shows the window's
# numbers, with the maximum marked ★ (max) or the sum over the count written out (avg), equal to
# that output pixel. Padding cells show the value used: −∞ for max (it never wins), 0 for avg,
# counted or not as `count_include_pad` says. The *window row / col* sliders do the same from
# the keyboard, and ▶ slides the window on its own. Settings that PyTorch forbids are explained;
# a value the rules changed gets a note next to its slider.
#
# Things to try:
# * **Try this:** the seed post's 4×4 tensor with kernel 2, stride 2, and ▶: the four windows
#   give 49, 41, 41, 36, the output printed in the post. Switch to avg: which window's average is
#   furthest from its maximum?
# * **Try this:** `brick` with **max − avg panel**: the red spots are where max and avg differ
#   most. Point at one: what does the window hold there?
# * Fashion-MNIST, kernel 2, stride 2: then kernel 3, stride 2 (AlexNet's overlapping pooling).
# * `brick` with **compare max vs avg**: its mortar lines are *lighter* than the bricks (see the
#   photo), so max pooling widens them, as it widened the bright line (and the table above found
#   no pixels below 0.25 in it, so there is no dark detail to erase). Then `chelsea`: which mode keeps the dark detail in the fur? Check the table.
# * kernel 3 and stride 1: the output hardly shrinks, but bright regions grow.
# * a 28×28 image with kernel 2, stride 2, `ceil_mode` on and off (28 is even: nothing changes),
#   then stride 3 (now it does).
# * dilation 4 with kernel 9 on a Fashion-MNIST image: why is it refused?

# %%
from cnnedu.widgets.pooling_explorer import PoolingExplorer

explorer = PoolingExplorer(photo_size=256 if QUICK else 512)
explorer

# %% [markdown]
# ## 5. Pooling in real networks
# Where do AlexNet and ResNet-18 pool? Read it off the models (torchvision's definitions, no
# weights needed):

# %%
# NBVAL_CHECK_OUTPUT
from torchvision.models import alexnet, resnet18

for name, model in [("AlexNet", alexnet()), ("ResNet-18", resnet18())]:
    print(name)
    for module_name, module in model.named_modules():
        if "Pool" in type(module).__name__:
            print(f"  {module_name:10s} {module}")

# %% [markdown]
# * **AlexNet** uses *overlapping* max pooling: kernel 3, stride 2, so neighbouring windows share
#   a row/column. The 2012 paper reports that this lowered its top-1 / top-5 error by 0.4% /
#   0.3% compared with non-overlapping 2×2 pooling and made overfitting slightly harder. (That is
#   the paper's ImageNet result; we do not re-run it here.)
# * **ResNet** max-pools once, early (kernel 3, stride 2, padding 1), then shrinks with strided
#   convolutions, and ends with **global average pooling** (`AdaptiveAvgPool2d(1)`): one average
#   per channel over the whole map. Network in Network (Lin et al. 2013) proposed it in place of
#   large fully connected layers like AlexNet's, and ResNet followed. (torchvision's AlexNet
#   also has an `AdaptiveAvgPool2d((6, 6))`, printed above, so that other input sizes reach its
#   classifier as 6×6 maps; the 2012 network had no average pooling.)
#
# ### What pooling does to a one-pixel shift
# Pooling is often said to make networks "translation invariant". Shift a photo right by one
# pixel and measure how much the pooled output changes (0 = not at all):

# %%
from cnnedu.sharpness import shift_sensitivity

settings = [("max 2/2", 2, 2, "max"), ("max 3/2 (AlexNet)", 3, 2, "max"), ("avg 2/2", 2, 2, "avg"),
            ("global avg", PHOTO_SIZE, PHOTO_SIZE, "avg")]
shift_rows = {label: [shift_sensitivity(img, k, s, mode) for img in photos.values()]
              for label, k, s, mode in settings}
shift_rows["no pooling"] = [shift_sensitivity(img, 1, 1, "max") for img in photos.values()]
for label, values in shift_rows.items():
    print(f"{label:18s} mean relative change {np.mean(values):.3f}")

# %%
# NBVAL_CHECK_OUTPUT
no_pool = np.mean(shift_rows["no pooling"])
print("every pooling changes less than no pooling:",
      all(np.mean(v) < no_pool for k, v in shift_rows.items() if k != "no pooling"))
print("global average pooling changes least:",
      min(shift_rows, key=lambda k: np.mean(shift_rows[k])) == "global avg")

# %% [markdown]
# Small windows make outputs only *somewhat* less sensitive to a shift: a one-pixel shift still
# changes a 2×2-pooled map noticeably (it moves content across window borders). Only global
# average pooling is close to invariant: it throws away *where* things are. Lin et al. (2013)
# give this robustness to translation as one motivation for it, besides having no parameters to
# overfit.

# %% [markdown]
# ### Exercise 01.4
# Predict the 2×2 max pooling (stride 2) and the 2×2 average pooling of this tensor, as nested
# lists like `[[a, b], [c, d]]` (a tensor is fine too).

# %%
# NBVAL_CHECK_OUTPUT
q = torch.tensor([[[1., 5., 2., 0.],
                   [3., 4., 8., 1.],
                   [0., 2., 6., 7.],
                   [9., 1., 3., 5.]]])
print(q)

# %%
# EXERCISE 01.4
answer_max = None   # e.g. [[1, 2], [3, 4]]
answer_avg = None

# %%
# NBVAL_CHECK_OUTPUT
import torch

from cnnedu.exercises import check
from cnnedu.pooling import pool2d

q = torch.tensor([[[1., 5., 2., 0.], [3., 4., 8., 1.], [0., 2., 6., 7.], [9., 1., 3., 5.]]])  # as above
check(answer_max, pool2d(q, 2, 2)[0].tolist(), exercise="01.4 (max)",
      hint="the windows do not overlap: each output number comes from one 2×2 quarter.")
check(answer_avg, pool2d(q, 2, 2, mode="avg")[0].tolist(), exercise="01.4 (average)",
      hint="an average of four numbers need not be a whole number.");

# %% [markdown]
# ## 6. The backward pass: where pooling sends the gradient
# A network learns from gradients, so every layer must also answer: if the loss $L$ changes by
# $\partial L / \partial y_j$ per unit of output $y_j$, how much does it change per unit of each
# input $x_i$? For pooling the chain rule is short.
#
# * **Max pooling**: $y_j = x_{a(j)}$, where $a(j)$ is the position of window $j$'s maximum.
#   Nudging the maximum moves the output one for one; nudging any other pixel of the window
#   changes nothing. So $\dfrac{\partial L}{\partial x_i} = \sum_{j:\, a(j) = i}
#   \dfrac{\partial L}{\partial y_j}$: each output's gradient goes to its window's winner, and
#   a pixel that wins several **overlapping** windows receives the **sum** of their gradients.
#   Padding is −∞ and never wins, so padding cells get nothing.
# * **Average pooling**: $y_j = \frac{1}{d_j}\sum_{i \in \text{window } j} x_i$, so
#   $\dfrac{\partial L}{\partial x_i} = \sum_{j \ni i} \dfrac{1}{d_j}\dfrac{\partial L}{\partial
#   y_j}$: each output's gradient is spread evenly over its window, divided by the same divisor
#   $d_j$ as the forward pass (`count_include_pad` decides whether padding cells count); the share
#   that lands on padding is dropped.
#
# `cnnedu.backward.pool2d_backward` writes this out, and `pool2d_hand` is `pool2d` with that
# backward attached (a `torch.autograd.Function`). On the 4×4 demo, with every output's gradient
# set to 1, the gradient marks the four winners:

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.backward import pool2d_backward, pool2d_hand

ones = torch.ones(1, 2, 2)
print(x)
print("max, 2x2/2:\n", pool2d_backward(x, ones, 2, 2))
print("avg, 2x2/2:\n", pool2d_backward(x, ones, 2, 2, mode="avg"))

# %% [markdown]
# With AlexNet's overlapping windows (kernel 3, stride 2) and padding 1, one pixel can win
# several windows. Make pixel (1, 1) of the demo the largest: it lies in all four windows. Each
# output's gradient is now a different number (1, 10, 100, 1000), so you can read off which
# windows sent gradient where; PyTorch's autograd gives the same:

# %%
# NBVAL_CHECK_OUTPUT
x_big = x.clone()
x_big[0, 1, 1] = 99.0
g = torch.tensor([[[1., 10.], [100., 1000.]]])
mine = pool2d_backward(x_big, g, 3, 2, 1)
x_leaf = x_big.clone().requires_grad_(True)
nn.functional.max_pool2d(x_leaf, 3, 2, 1).backward(g)
print("ours:\n", mine)
print("equal to autograd's gradient of F.max_pool2d:", torch.equal(mine, x_leaf.grad))
print("pixel (1, 1) received", mine[0, 1, 1].item(), "= 1 + 10 + 100 + 1000: the overlaps add")

# %% [markdown]
# **Ties.** When a window holds its maximum twice, which pixel gets the gradient? PyTorch's
# kernels scan a window row by row and replace the running maximum only by a *strictly larger*
# value, so the **first** maximum in row-major order wins. `pool2d` scans in the same order with
# the same rule, so it agrees. A from-scratch version that picks another tied pixel, or splits the
# gradient among them, is just as valid mathematically (any of them is a subgradient): the
# gradient's *sum* per window agrees, its *place* does not.

# %%
# NBVAL_CHECK_OUTPUT
tie = torch.tensor([[[7., 7.], [7., 1.]]])
t_leaf = tie.clone().requires_grad_(True)
nn.functional.max_pool2d(t_leaf, 2).backward(torch.ones(1, 1, 1))
print("PyTorch routes the tie to:\n", t_leaf.grad)
print("pool2d_backward:\n", pool2d_backward(tie, torch.ones(1, 1, 1), 2))

# %% [markdown]
# Away from ties, the hand-written backward passes `torch.autograd.gradcheck` (it compares with
# finite differences in float64), and it equals autograd's gradient of PyTorch's own pooling over
# random settings (kernel, stride, padding, dilation, `ceil_mode`, both modes):

# %%
# NBVAL_CHECK_OUTPUT
import random

torch.manual_seed(0)
x64 = (torch.randperm(2 * 3 * 9 * 8).double() / 10).reshape(2, 3, 9, 8).requires_grad_(True)
for kwargs in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1),
               dict(kernel_size=3, stride=2, padding=1, mode="avg", count_include_pad=False)]:
    print(kwargs, "gradcheck:",
          torch.autograd.gradcheck(lambda t, kw=kwargs: pool2d_hand(t, **kw), (x64,)))

rng, agree, tried = random.Random(0), 0, 0
while tried < 200:
    k, s, p, d = rng.randint(1, 4), rng.randint(1, 3), rng.randint(0, 2), rng.randint(1, 2)
    ceil, avg = rng.random() < 0.5, rng.random() < 0.5
    if p > k // 2 or (avg and d > 1):
        continue
    tried += 1
    xr = x64.detach().float().clone().requires_grad_(True)
    out = (nn.functional.avg_pool2d(xr, k, s, p, ceil) if avg
           else nn.functional.max_pool2d(xr, k, s, p, d, ceil))
    grad_out = torch.randn(out.shape)
    out.backward(grad_out)
    mine = pool2d_backward(xr.detach(), grad_out, k, s, p, d, ceil, "avg" if avg else "max")
    agree += torch.allclose(mine, xr.grad, atol=1e-6)
print(f"equal to autograd in {agree} of {tried} random settings")

# %% [markdown]
# ### Exercise 01.5 (code): max pooling's backward pass
# Write `max_pool2d_backward(x, grad_out, kernel_size, stride, padding)`: the gradient with
# respect to `x` (N, C, H, W) of max pooling, given `grad_out`, the gradient with respect to its
# output. Two tools: `torch.argmax` over each window's k·k values (from the `unfold` of exercise
# 01.3) finds the winners, and `F.fold(columns, (H, W), kernel_size, padding=..., stride=...)` is
# `unfold` in reverse: it puts each window's k·k values back where the window was, **adding**
# where windows overlap, and drops the padding. The check compares with autograd's gradient of
# `F.max_pool2d` on five inputs (no ties): windows side by side, overlapping windows with
# padding, stride 1, stride 2 with unused pixels, batch size 1.

# %%
# EXERCISE 01.5
def max_pool2d_backward(x, grad_out, kernel_size, stride, padding=0):
    """dL/dx of max pooling, given grad_out = dL/d(output)."""
    raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check_code

check_code("01.5", max_pool2d_backward);

# %% [markdown]
# ### Use it: a network trained through your pooling's gradient
# A small network (two 3×3 convolutions with BatchNorm and ReLU, each followed by 2×2 max
# pooling, then a linear layer) is trained twice on Fashion-MNIST training images from the same
# weights on the same batches: once with PyTorch's `MaxPool2d`, once with `pool2d` and the
# hand-written backward. First a few steps in float64, where any difference in the gradients
# would show in the losses:

# %%
from cnnedu.backward.training import train_side_by_side
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.splits import hold_out

full_train = FashionMNIST("train")       # the validation part is held out for the next section
train_set, val_part = hold_out(full_train, 5000 if full_train.is_full else None)
STEPS = 5 if QUICK else 150
exact = train_side_by_side(BatchLoader(train_set, 64, shuffle=True), ["pool"],
                           steps=3 if QUICK else 10, dtype=torch.float64)
gap = max(abs(a - b) for a, b in zip(exact[0].losses, exact[1].losses))
print(f"float64, first {len(exact[0].losses)} steps: largest loss difference {gap:.1e}")

# %% [markdown]
# Then a short training run in float32 (150 steps of 64 images in full mode), with the time of
# each network's steps:

# %%
import matplotlib.pyplot as plt

runs = train_side_by_side(BatchLoader(train_set, 64, shuffle=True), ["pool"], steps=STEPS)
fig, ax = plt.subplots(figsize=(7, 3))
for run, style in zip(runs, ["-", "--"]):
    ax.plot(run.losses, style, label=run.name)
    print(f"{run.name:28s} {len(run.losses)} steps in {run.seconds:5.1f} s; mean loss of the "
          f"last 20 steps {np.mean(run.losses[-20:]):.3f}")
print("largest loss difference over the run:",
      f"{max(abs(a - b) for a, b in zip(runs[0].losses, runs[1].losses)):.1e};",
      "identical at every step:", runs[0].losses == runs[1].losses)
ax.set_xlabel("step")
ax.set_ylabel("training loss")
ax.legend();

# %% [markdown]
# The printed differences say how close the two runs are. Where they are 0, pooling's forward
# pass picked the same winners as PyTorch's and its backward sent the gradient to the same
# pixels, so the two networks computed the same numbers at every step. The hand-written version is slower
# (Python loops over the k×k offsets instead of one fused kernel): the times above say by how
# much on your machine.

# %% [markdown]
# ### Back to section 3: pooling on a trained network's feature maps
# Section 3 measured pooling on raw photos, the blog post's setting. Inside a network, pooling
# acts on feature maps after ReLU. The network just trained (PyTorch's version) has real ones:
# the output of its first convolution, BatchNorm and ReLU (8 channels, 28×28), here for 256
# held-out validation images it never trained on. Same question, channel by channel: how strong
# are the edges after its 2×2 max pooling, and after 2×2 average pooling, relative to plain
# subsampling (1.0 = as sharp as subsampling)? A channel that is zero everywhere on an image has
# no edges to compare there, so that image is left out for that channel.

# %%
from cnnedu.data import normalize
from cnnedu.sharpness import feature_map_edges
from cnnedu.splits import subset

probe = subset(val_part, range(min(256, len(val_part))))
trained = runs[0].net.eval()                     # the autograd net, after its training above
with torch.no_grad():
    fmaps = trained[:3](normalize(probe.images[:, None]))   # conv, BatchNorm, ReLU
map_rows = feature_map_edges(fmaps, 2)
print(f"{'channel':>7s} {'zeros':>6s} {'images':>6s} | {'edge max/sub':>12s} {'edge avg/sub':>12s} "
      f"| {'max > avg on':>12s}")
for r in map_rows:
    print(f"{r['channel']:7d} {r['zeros']:6.0%} {r['planes']:6d} | {r['edge_max']:12.2f} "
          f"{r['edge_avg']:12.2f} | {r['max_beats_avg']:12.0%}")
live = [r for r in map_rows if r["planes"]]
print(f"channels compared: {len(live)} of {len(map_rows)}")
print("avg pooling: weaker edges than plain subsampling:   "
      f"{sum(r['edge_avg'] < 1 for r in live)}/{len(live)} channels")
print("max pooling: stronger edges than avg (most images): "
      f"{sum(r['max_beats_avg'] > 0.5 for r in live)}/{len(live)} channels")
print("max pooling: stronger edges than plain subsampling: "
      f"{sum(r['edge_max'] > 1 for r in live)}/{len(live)} channels")
photos_k2 = [r for r in rows if r["kernel"] == 2]        # section 3's photos, the same window
print("(the photos with the same 2x2 window: max stronger than plain subsampling in "
      f"{sum(r['edge_max'] > r['edge_subsample'] for r in photos_k2)}/{len(photos_k2)})")

# %% [markdown]
# **What the numbers show**, on this network's first feature maps (one network, trained for
# 150 steps, one layer, 2×2 windows; read the counts above from your own run). Average pooling
# weakened the edges relative to plain subsampling in every channel (8/8), as on the photos.
# Max pooling kept stronger edges than average pooling on most images in every channel (8/8),
# and stronger than plain subsampling in 7/8 channels, where the photos with the same window
# gave 3/6 (printed above; each channel's figure is a mean over 256 images, each photo's one
# ratio, and no test was run). A likely reason, not measured separately: after ReLU
# many values are zero (the zeros column), so a window's maximum is often its one strong
# response, which max pooling keeps and averaging dilutes with the zeros around it. So on these
# feature maps the blog post's "max pooling keeps sharp edges" held more often than on the raw
# photos.

# %% [markdown]
# ### Figures quoted from the literature
# The numbers this lesson quotes from papers (no cell of ours can measure them), each with its
# source:

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.facts import show_facts

show_facts("01")

# %% [markdown]
# ## Summary
# * Pooling keeps one number per window; the output size follows one formula, with `ceil_mode`'s
#   "no window may start in the padding" exception and the rule padding ≤ kernel // 2.
# * On raw grey photos, average pooling softens edges. Max pooling keeps stronger edges than
#   average pooling (in 16 of the 18 photo × kernel cases measured here), but it
#   also brightens, thickens bright structures and erases thin dark ones. On the first
#   feature maps (after ReLU) of one small network trained for 150 steps, with 2×2 windows, the
#   edge claim held more often: average pooling weakened edges in 8/8 channels, and max pooling
#   kept stronger edges than plain subsampling in 7/8 (the photos with the same window: 3/6).
# * Pooling alone gives only a little shift tolerance; global average pooling gives a lot.
# * Backward: max pooling sends each output's gradient to its window's maximum (overlaps add,
#   padding gets nothing, ties go to the first maximum); average pooling spreads it evenly.
#
# Next: **02 · AlexNet**, where pooling sits between the convolutions of a real network.
