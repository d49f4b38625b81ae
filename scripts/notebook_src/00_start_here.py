# %% [markdown]
# # 00 · Start here
#
# Welcome to **cnnedu**, a hands-on course on how convolutional networks grew from AlexNet
# (2012) to ResNet (2015) and beyond. The lessons measure what they claim with code that runs in
# front of you; where a lesson quotes a published result instead, it says so and names the source.
#
# This notebook checks your setup: versions, the device, the data, a photo, and a tiny model
# trained briefly with a progress bar and a live plot.
#
# | lesson | what you do |
# |---|---|
# | `01_pooling` | max vs average pooling, from scratch, on real photos, with an interactive explorer |
# | `02_alexnet` | AlexNet taken apart, trained on a CPU in two minutes, its filters and feature maps |
# | `03_batchnorm` | BatchNorm from scratch, and what it really does for training |
# | `04_resnet` | residual blocks, ResNet-18 rebuilt, why depth now trains |
# | `05_vgg_inception_densenet` | VGG, Inception and DenseNet, measured side by side with AlexNet and ResNet |
# | `06_scale_out` | the lesson's ResNet trained data-parallel under `torchrun`, proven equal to one process, a worker killed and resumed, scaling measured and predicted |
# | `07_inside_a_trained_network` | where the trained ResNet fails, whether its probabilities can be trusted, and what it looks at: five attribution methods from scratch, checked against Captum and put to two sanity tests |
# | `08_efficient_convnets` | after ResNet: depthwise-separable convolution, MobileNetV2, squeeze-and-excitation and ConvNeXt built from scratch and equal to torchvision, and where FLOPs and time part ways |

# %% [markdown]
# ## Parameters
# Every lesson reads its switches here, once, and says which data it uses. Quick mode cuts
# every training to a few batches (seconds instead of minutes; the figures then differ from the
# text): set `QUICK = True` below and run the lessons from the top. `QUICK = None` follows
# `CNNEDU_QUICK=1`, which the tests set.

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
SEED = config.seed_everything(0)
print("quick mode" if QUICK else "full mode", "| seed", SEED)
print(data_note())

# %% [markdown]
# ## Your environment

# %%
import platform

import ipywidgets
import matplotlib
import torch
import torchvision

print(f"Python {platform.python_version()} | torch {torch.__version__} | "
      f"torchvision {torchvision.__version__} | ipywidgets {ipywidgets.__version__} | "
      f"matplotlib {matplotlib.__version__} | {torch.get_num_threads()} CPU threads")

# %% [markdown]
# ## The device
# `cnnedu.device` picks a CUDA GPU, then Apple's MPS, then the CPU, and says why.
# Set `CNNEDU_DEVICE=cpu` (or `cuda`, `mps`) before starting JupyterLab to choose yourself.

# %%
from cnnedu.device import choose_device

choice = choose_device()
device = choice.device
print(choice)

# %% [markdown]
# ## The data: Fashion-MNIST
# 60,000 training and 10,000 test images, grey 28×28 photos of clothes in 10 classes (Zalando,
# MIT licence): harder than the
# handwritten digits of MNIST, small enough to train on a laptop CPU. `cnnedu.data` looks for it
# offline first (your `CNNEDU_DATA` folder, torchvision's folder, Debian's
# `dataset-fashion-mnist` package), and falls back to a small subset that ships inside the
# package, so this course runs anywhere (the cell below prints which one it found and its size).

# %%
from cnnedu.data import CLASS_NAMES, FashionMNIST

train_set = FashionMNIST("train")
test_set = FashionMNIST("test")
print(f"train: {len(train_set):,} images, test: {len(test_set):,} images")
print("source:", train_set.source)
if not train_set.is_full:
    print("(only the bundled subset was found: accuracies will be lower than in the README)")

# %% [markdown]
# The ten classes, in label order:

# %%
# NBVAL_CHECK_OUTPUT
for label, name in enumerate(CLASS_NAMES):
    print(label, name)

# %% [markdown]
# Three examples of each class. Notice how shirts, T-shirts, pullovers and coats look alike at
# 28×28: a fair guess is that models will mix them up more than, say, trousers and bags.
# A guess, not yet a result: lesson 07 prints the confusion matrix of a trained network, where
# you can check it.

# %%
from cnnedu.viz import show_fashion_grid

show_fashion_grid(test_set, per_class=3);

# %% [markdown]
# ## A real photo
# The pooling and convolution lessons also use real photographs (public domain or CC0; see
# `images/README.md`), because edges and textures are easier to see in them.

# %%
import matplotlib.pyplot as plt

from cnnedu.images import list_photos, load_photo

print("photos:", ", ".join(list_photos()))
photo = load_photo("astronaut")
plt.figure(figsize=(4, 4))
plt.imshow(photo.permute(1, 2, 0))
plt.title(f"astronaut, {tuple(photo.shape)}")
plt.axis("off");

# %% [markdown]
# ## Training, briefly
# A tiny convolutional network (one conv layer, one pooling layer, one linear layer).
# `cnnedu.train.fit` shows a progress bar per epoch and redraws one loss/accuracy plot in place.
# Batches come straight from memory (`BatchLoader`): no per-image Python, which is what makes
# training on a CPU practical.

# %%
from torch import nn

from cnnedu.data import BatchLoader
from cnnedu.train import fit

tiny = nn.Sequential(
    nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 14 * 14, 10),
)
train_loader = BatchLoader(train_set, batch_size=128, shuffle=True, device=device)
test_loader = BatchLoader(test_set, batch_size=1000, device=device)
history = fit(tiny, train_loader, test_loader, epochs=2, lr=0.05, device=device,
              max_batches=5 if QUICK else 150, live_plot=True)
print(f"test accuracy after {len(history.epoch)} short epochs: {history.final_test_acc:.3f}")

# %% [markdown]
# The accuracy printed above comes from a very short training (chance is 0.1, one class in
# ten). The lessons train real AlexNet- and ResNet-style models for minutes and print how far
# they get.

# %% [markdown]
# ## How the course works
# * **Lessons** are the numbered notebooks. Run them top to bottom (Run → Run All Cells).
# * **Full vs quick mode.** By default you get the full run (real training, a few minutes per
#   lesson on a 2-core CPU; the expected time is written above each long cell). `QUICK = True` in
#   a lesson's parameters cell (or `CNNEDU_QUICK=1` before starting, as the tests do) cuts every
#   run to a few batches. While a cell trains, the kernel is busy: widgets answer once it ends.
# * **Your copies.** `./course.sh lab` opens your own copies of the lessons (`my_lessons/`):
#   change anything; `./course.sh reset 02` brings back the original lesson 02.
# * **Helpers** live in the `cnnedu` package, one module per job: `pooling`, `data`, `train`,
#   `images`, `viz`, `widgets`, `models`, ... A cell never hides more than a few lines: open the
#   module (Shift+Tab or `??name`) to read the code behind it.
# * **Exercises** are auto-checked: write your answer, run the check cell, get ✅ or ❌ and
#   feedback. There are two kinds, both numbered by lesson (`02.3` is lesson 02's third):
#   * *answer a number*: replace the `None` in the answer cell. Equivalent forms count (`56`,
#     `56.0`, a tensor; letters in any order where order does not matter). A hint appears only
#     after a wrong answer, a second wrong answer shows one more.
#   * *write the code* (marked "(code)"): fill in the function or class whose body says
#     `raise NotImplementedError`. The check runs it on several inputs and compares with PyTorch;
#     if something differs it shows the first failing input, expected vs returned (shape, dtype,
#     or the position and values of the largest difference), and a hint when it recognises the
#     mistake. An error in your code is shown as one line, with the line of your cell.
#
#   Until you answer, the check says "not answered yet" and Run All carries on.
#   `solution("02.3")` prints a reference solution with a short explanation: try first.

# %% [markdown]
# ### Try it: exercise 00.1 (code)
# Here is what a wrong answer looks like: this `relu` has a deliberate mistake.

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check_code, solution  # noqa: F401 (solution: yours to call)


def relu(x):
    return x.clamp(max=0)     # a deliberate mistake


check_code("00.1", relu);

# %% [markdown]
# Now write `relu(x)` correctly (element by element `max(x, 0)`, any shape, keeping the dtype)
# and run the check below it.

# %%
# EXERCISE 00.1
def relu(x):
    """max(x, 0), element by element."""
    raise NotImplementedError("your code here")

# %%
# NBVAL_CHECK_OUTPUT
from cnnedu.exercises import check_code

check_code("00.1", relu);
