"""Experiments: device=None means auto everywhere; held-out data is what gets evaluated; BN
re-estimation matches PyTorch's ``update_bn``."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

import cnnedu.device
from cnnedu import experiments
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.models.alexnet import AlexNet

AUTO = torch.device("cpu", 0)   # a device no code writes by itself: only the auto choice gives it


@pytest.fixture
def auto_is_marked(monkeypatch):
    """``get_device()`` (the auto choice) answers ``cpu:0``, so its use can be told from a default."""
    monkeypatch.setattr(cnnedu.device, "get_device", lambda preference=None: AUTO)


@pytest.fixture
def spy_fit(monkeypatch):
    """Replace ``fit`` in experiments by a recorder of the devices it would train on."""
    calls = []

    def fake_fit(model, train_loader, test_loader=None, *, device=None, **kwargs):
        from cnnedu.train import History

        calls.append({"train": train_loader.device, "device": cnnedu.device.resolve_device(device),
                      "test": None if test_loader is None else test_loader.device,
                      "test_loader": test_loader})
        return History()

    monkeypatch.setattr(experiments, "fit", fake_fit)
    return calls


def test_compare_training_and_ablate_use_the_auto_device(auto_is_marked, spy_fit):
    from cnnedu.recipes import get_recipe

    train, test = FashionMNIST("train", limit=64), FashionMNIST("test", limit=32)
    experiments.compare_training({"a": partial(AlexNet, width=0.25)}, train, test, epochs=1,
                                 batch_size=16, progress=False)
    experiments.ablate_recipe(get_recipe("alexnet"), {"base": {}}, train, test, epochs=1,
                              progress=False)
    assert [(c["train"], c["device"], c["test"]) for c in spy_fit] == [(AUTO, AUTO, AUTO)] * 2


def test_seconds_per_training_step_runs_on_the_auto_device(auto_is_marked, monkeypatch):
    seen = []
    real_randn = torch.randn
    monkeypatch.setattr(torch, "randn", lambda *a, **kw: seen.append(kw.get("device"))
                        or real_randn(*a, **kw))
    experiments.seconds_per_training_step(lambda: nn.Sequential(nn.Flatten(), nn.Linear(4, 10)),
                                          (2, 1, 2, 2), steps=1)
    assert seen == [AUTO]


def test_compare_training_evaluates_on_the_test_set_it_was_given():
    """Truth: F.cross_entropy and accuracy of the trained model on the given test images,
    computed directly (the training set would give other numbers)."""
    from torch.nn import functional as F

    from cnnedu.data import normalize

    built = []

    def build():
        built.append(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
        return built[-1]

    train, test = FashionMNIST("train", limit=200), FashionMNIST("test", limit=100)
    history = experiments.compare_training({"a": build}, train, test, epochs=1, batch_size=50,
                                           progress=False, device="cpu", lr=0.05)["a"]
    with torch.no_grad():
        logits = built[0].eval()(normalize(test.images).unsqueeze(1))
    assert history.test_loss[-1] == pytest.approx(F.cross_entropy(logits, test.labels).item(),
                                                  rel=1e-5)
    assert history.test_acc[-1] == pytest.approx((logits.argmax(1) == test.labels).double()
                                                 .mean().item())


def test_reestimate_batchnorm_matches_pytorch_update_bn_on_the_first_batches():
    """Truth: torch.optim.swa_utils.update_bn over exactly the first ``batches`` batches."""
    import copy

    from torch.optim.swa_utils import update_bn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 3),
                          nn.BatchNorm2d(2))
    batches = [(torch.randn(8, 1, 8, 8) * (i + 1), torch.zeros(8)) for i in range(5)]
    reference = copy.deepcopy(model)
    update_bn([x for x, _ in batches[:3]], reference)
    experiments.reestimate_batchnorm(model.eval(), batches, batches=3)
    torch.testing.assert_close(model.state_dict(), reference.state_dict())
    assert not model.training
    with pytest.raises(ValueError, match="no BatchNorm"):
        experiments.reestimate_batchnorm(nn.Linear(2, 2), batches)


def test_reestimate_batchnorm_averages_the_batch_statistics_by_hand():
    """Truth computed by hand: the plain mean over the batches of each batch's mean and unbiased
    variance; BatchNorm's own momentum and mode are given back."""
    torch.manual_seed(0)
    norm = nn.BatchNorm2d(2, momentum=0.3)
    norm.running_mean.fill_(5.0)
    batches = [(torch.randn(6, 2, 3, 3) * (i + 1) + i, None) for i in range(3)]
    experiments.reestimate_batchnorm(norm, batches, batches=3)
    means = torch.stack([x.mean(dim=(0, 2, 3)) for x, _ in batches])
    variances = torch.stack([x.transpose(0, 1).reshape(2, -1).var(dim=1) for x, _ in batches])
    torch.testing.assert_close(norm.running_mean, means.mean(0))
    torch.testing.assert_close(norm.running_var, variances.mean(0))   # unbiased, as BatchNorm
    assert norm.momentum == 0.3 and norm.training                    # as it was before


def test_reestimate_batchnorm_in_bf16_equals_update_bn_under_torchs_autocast():
    """A bf16-trained model's statistics come from its bf16 activations: the same as torch's
    update_bn inside torch.autocast, and not the same as in float32."""
    import copy

    from torch.optim.swa_utils import update_bn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    batches = [(torch.randn(8, 1, 8, 8) * (i + 1), torch.zeros(8)) for i in range(4)]
    reference, in_fp32 = copy.deepcopy(model), copy.deepcopy(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        update_bn([x for x, _ in batches], reference)
    experiments.reestimate_batchnorm(model, batches, batches=4, precision="bf16")
    experiments.reestimate_batchnorm(in_fp32, batches, batches=4)
    torch.testing.assert_close(model.state_dict(), reference.state_dict())
    assert not torch.allclose(model[1].running_var, in_fp32[1].running_var, rtol=1e-4)
    with pytest.raises(ValueError, match="precision must be one of"):
        experiments.reestimate_batchnorm(model, batches, precision="fp16")


def test_compare_training_trains_on_shuffled_batches_seeded_by_its_seed(spy_fit, monkeypatch):
    """Truth: a plain shuffled BatchLoader with the same seed gives the same first batch, and
    it differs from the data's own order."""
    seen = []
    real = experiments.fit

    def recording_fit(model, train_loader, *args, **kwargs):
        seen.append(next(iter(train_loader))[1])
        return real(model, train_loader, *args, **kwargs)

    monkeypatch.setattr(experiments, "fit", recording_fit)
    train = FashionMNIST("train", limit=64)
    experiments.compare_training({"a": partial(AlexNet, width=0.25)}, train, None, epochs=1,
                                 batch_size=16, seed=3, progress=False, device="cpu")
    expected = next(iter(BatchLoader(train, 16, shuffle=True, seed=3)))[1]
    assert torch.equal(seen[0], expected) and not torch.equal(seen[0], train.labels[:16])


def test_ablate_recipe_keeps_max_batches(monkeypatch):
    import dataclasses

    from cnnedu.recipes import get_recipe

    recipe = dataclasses.replace(get_recipe("alexnet"), build=partial(AlexNet, width=0.25),
                                 batch_size=16)
    train, test = FashionMNIST("train", limit=64), FashionMNIST("test", limit=32)
    runs = experiments.ablate_recipe(recipe, {"base": {}}, train, test, epochs=1, max_batches=2,
                                     device="cpu", progress=False)
    assert len(runs["base"].step_loss) == 2


def test_compare_training_takes_the_layout_as_a_named_argument(monkeypatch):
    """``channels_last`` is a named argument that reaches both loaders and ``fit``; the other
    settings reach ``fit`` untouched. (Fashion-MNIST has one channel, where both layouts have
    the same strides, so the flag itself is what can be checked.)"""
    seen = []

    def recording_fit(model, train_loader, test_loader=None, **kwargs):
        from cnnedu.train import History
        seen.append((train_loader.channels_last, test_loader.channels_last,
                     kwargs["channels_last"], kwargs["lr"]))
        return History()

    monkeypatch.setattr(experiments, "fit", recording_fit)
    train, test = FashionMNIST("train", limit=32), FashionMNIST("test", limit=16)
    for layout in (True, False):
        experiments.compare_training({"a": partial(AlexNet, width=0.25)}, train, test, epochs=1,
                                     batch_size=16, progress=False, device="cpu",
                                     channels_last=layout, lr=0.01)
    assert seen == [(True, True, True, 0.01), (False, False, False, 0.01)]
