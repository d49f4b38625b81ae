"""Numbers from the literature that lessons quote, each with its source.

A lesson may state a published figure (AlexNet's ImageNet error, a paper's layer widths) that
no cell of ours can measure. Such a figure is allowed in prose only when it is listed here for
that lesson and the lesson shows the list to the learner with ``show_facts("NN")``, so every
number a reader meets is either printed by our code or printed with its source. The prose-number
check (``scripts/check_prose_numbers.py``) reads this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    """One published figure: its value as written, what it measures, and where it comes from."""

    value: str
    what: str
    source: str


_HE_2016 = "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition, CVPR 2016, Table 1"
_GOYAL_2017 = "Goyal et al., Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour, 2017"
_LINKS = "round figures assumed by cnnedu.distributed.scaling.NETWORKS"

LITERATURE: dict[str, list[Fact]] = {
    "01": [
        Fact("0.4", "top-1 error points saved by overlapping (3/2) vs 2x2 pooling, ImageNet",
             "Krizhevsky, Sutskever, Hinton, NIPS 2012, section 3.4"),
        Fact("0.3", "top-5 error points saved by overlapping pooling, ImageNet",
             "Krizhevsky, Sutskever, Hinton, NIPS 2012, section 3.4"),
    ],
    "02": [
        Fact("96-256-384-384-256", "AlexNet 2012 convolution widths",
             "Krizhevsky, Sutskever, Hinton, ImageNet Classification with Deep CNNs, NIPS 2012"),
        Fact("64-192-384-384-256", "'one weird trick' AlexNet widths (footnote, p. 5)",
             "Krizhevsky, One weird trick for parallelizing CNNs, arXiv 1404.5997, 2014"),
        Fact("64-192-384-256-256", "torchvision AlexNet widths: cuda-convnet2 one-GPU config",
             "cuda-convnet2 layers-imagenet-1gpu.cfg; pytorch/vision pull request 463"),
        Fact("3", "GB of memory on each of the two GTX 580 GPUs AlexNet was trained on",
             "Krizhevsky, Sutskever, Hinton, NIPS 2012, section 3.2"),
        Fact("60", "million parameters, as the paper states it (abstract)",
             "Krizhevsky, Sutskever, Hinton, NIPS 2012, abstract"),
        Fact("5-6", "days of training on two GTX 580 GPUs",
             "Krizhevsky, Sutskever, Hinton, NIPS 2012, section 5"),
        Fact("224", "input side the paper states (its first layer's arithmetic needs 227)",
             "Krizhevsky, Sutskever, Hinton, NIPS 2012, section 3.5 and Figure 2"),
    ],
    "04": [
        Fact("152", "layers of the deepest ResNet in the ImageNet 2015 winning entry",
             "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition, CVPR 2016, "
             "section 4.1 and Table 5"),
        Fact("1024", "output channels of ResNet-50's third stage", _HE_2016),
        Fact("2048", "output channels of ResNet-50's fourth stage", _HE_2016),
    ],
    "06": [
        Fact("256", "images per mini-batch in ResNet's ImageNet training",
             "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition, CVPR 2016, "
             "section 3.4"),
        Fact("8", "GPUs x 32 images: the usual run of that batch, Goyal et al.'s baseline",
             _GOYAL_2017),
        Fact("3.1", "GB/s, 25 Gbit Ethernet (25/8), assumed", _LINKS),
        Fact("25", "GB/s per direction, PCIe 4.0 x16 as it carries data (31.5 nominal), assumed",
             _LINKS),
        Fact("450", "GB/s per direction, NVLink on an H100 SXM (NVIDIA: 900 GB/s both "
             "directions together), assumed", _LINKS),
        Fact("25.6", "million parameters of ResNet-50 (25,557,032)",
             "torchvision ResNet50_Weights.IMAGENET1K_V1 documentation"),
        Fact("3.2", "peak learning rate 0.1 x 8192/256 of the linear scaling rule", _GOYAL_2017),
    ],
    "08": [
        Fact("78.8", "ImageNet top-1 (%) of ResNet-50 trained with ConvNeXt's recipe alone",
             "Liu et al., A ConvNet for the 2020s, CVPR 2022, section 2.1"),
    ],
}


def literature_values(lesson: str) -> list[str]:
    """The values listed for ``lesson`` (two digits, e.g. ``"02"``); empty when none are."""
    if not (len(lesson) == 2 and lesson.isdigit()):
        raise ValueError(f"lesson must be two digits such as '02', got {lesson!r}")
    values = []
    for fact in LITERATURE.get(lesson, []):
        values += fact.value.split("-")  # a width list counts as its numbers
    return values


def show_facts(lesson: str) -> None:
    """Print the literature figures a lesson quotes, one line each with its source."""
    facts = LITERATURE.get(lesson, [])
    if not facts:
        print(f"lesson {lesson} quotes no published figures")
    for fact in facts:
        print(f"{fact.value:>10}  {fact.what}  ({fact.source})")
