"""AlexNet, scaled to 28x28 grey Fashion-MNIST, and torchvision's AlexNet adapted to it.

The 2012 design kept here: five convolutions (a larger first kernel, then 3x3), ReLU after
each, *overlapping* max pooling (kernel 3, stride 2), three fully connected layers with
dropout before the first two. What changed, and why:

* input 28x28x1 instead of 224x224x3, so the first layer uses a 5x5 kernel with stride 1
  (an 11x11 stride-4 kernel would reduce a 28-pixel image to 5 pixels in one step);
* channels 32-64-96-96-64 instead of 96-256-384-384-256 and fully connected 256-256 instead
  of 4096-4096: Fashion-MNIST has 10 classes and 60k images, and this fits a 2-core CPU's
  two-minute budget (about 0.4 M parameters instead of 61 M);
* no local response normalisation (later work found it adds little) and no two-GPU split.
"""

from __future__ import annotations

import torch
from torch import nn


def check_input(x: torch.Tensor) -> torch.Tensor:
    """Raise a clear error unless ``x`` is a batch of 28x28 grey images."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"AlexNet expects input of shape (N, 1, 28, 28), got {tuple(x.shape)}")
    return x


# Keep the check as one opaque call when torch.fx traces the model (feature extraction):
# its Python `if` on shapes could not be traced otherwise.
torch.fx.wrap("check_input")


class AlexNet(nn.Module):
    """AlexNet for (N, 1, 28, 28) inputs; returns (N, num_classes) logits.

    ``extra_convs`` inserts that many more 3x3 conv+ReLU layers after conv5 (used by lesson 02's
    "is deeper harder to train?" experiment); ``width`` scales every channel count.
    ``init="he"`` replaces PyTorch's default initialisation (uniform, variance 1/(3 fan_in),
    which shrinks the signal through every ReLU layer) by He et al.'s normal with variance
    2/fan_in, which keeps it.
    """

    def __init__(self, num_classes: int = 10, width: float = 1.0, dropout: float = 0.5,
                 extra_convs: int = 0, init: str = "pytorch"):
        super().__init__()
        c1, c2, c3, c4, c5 = (max(1, round(c * width)) for c in (32, 64, 96, 96, 64))
        layers: list[nn.Module] = [
            nn.Conv2d(1, c1, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),                      # 28 -> 13
            nn.Conv2d(c1, c2, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),                      # 13 -> 6
            nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        ]
        for _ in range(extra_convs):
            layers += [nn.Conv2d(c5, c5, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.MaxPool2d(kernel_size=3, stride=2))            # 6 -> 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c5 * 2 * 2, 256), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(256, 256), nn.ReLU(inplace=True),
            nn.Linear(256, num_classes),
        )
        if init == "he":
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
        elif init != "pytorch":
            raise ValueError(f"init must be 'pytorch' or 'he', got {init!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_input(x)
        return self.classifier(torch.flatten(self.features(x), 1))


def torchvision_alexnet_for_fashion_mnist(num_classes: int = 10) -> nn.Module:
    """torchvision's AlexNet (64-192-384-256-256, the variant the seed post prints), untrained,
    with a 1-channel first layer and a ``num_classes`` output. It expects inputs of at least
    63x63 pixels (e.g. Fashion-MNIST upsampled to 224x224): at 28x28 the third pooling would have
    nothing left to pool.
    """
    # imported here, not at the top: torchvision takes 1.6 s to import, and every torchrun
    # worker and benchmark process imports this module through the recipes
    from torchvision.models import alexnet as torchvision_alexnet
    model = torchvision_alexnet(weights=None)
    first = model.features[0]
    model.features[0] = nn.Conv2d(1, first.out_channels, first.kernel_size, first.stride,
                                  first.padding)
    last = model.classifier[-1]
    model.classifier[-1] = nn.Linear(last.in_features, num_classes)
    return model


def alexnet_2012(num_classes: int = 1000) -> nn.Sequential:
    """The network of Krizhevsky, Sutskever and Hinton (2012) as the paper describes it, untrained.

    96-256-384-384-256 kernels, local response normalisation after the first two convolutions,
    and the two-GPU split expressed as ``groups=2`` on the layers whose kernels saw only their
    own GPU's half (conv2, conv4, conv5). It needs 227x227 inputs for its arithmetic to work
    (the paper says 224). Used to count and compare, not to train here.
    """
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )
