"""The backward pass written by hand: every local gradient of the course's layers, checked
against autograd.

Each module holds one layer's gradient as a plain function (``*_backward``: what a learner
derives on paper) and a ``torch.autograd.Function`` that pairs the course's from-scratch forward
with that backward, so the layer can be used in a real network while autograd only chains the
pieces together. ``hand_layers`` wraps them as modules that load PyTorch's state dicts;
``training`` trains a small net of them next to the same net of PyTorch's layers;
``residual`` splits a residual block's input gradient into its shortcut and branch parts.
"""

from .batchnorm import BatchNorm2dFunction, batchnorm_backward
from .conv import Conv2dFunction, conv2d_backward, conv2d_unfold
from .pooling import Pool2dFunction, pool2d_backward, pool2d_hand

__all__ = ["BatchNorm2dFunction", "Conv2dFunction", "Pool2dFunction", "batchnorm_backward",
           "conv2d_backward", "conv2d_unfold", "pool2d_backward", "pool2d_hand"]
