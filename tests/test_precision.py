"""Training precision: bf16 autocast used in fit and evaluate, fp32 unchanged, bad values refused."""

import dataclasses

import pytest
import torch
from torch import nn

from cnnedu.config import seed_everything
from cnnedu.data import BatchLoader, FashionMNIST
from cnnedu.recipes import RECIPES, Recipe
from cnnedu.train import evaluate, fit
from cnnedu.train import precision as P
from cnnedu.train.precision import autocast, check_precision


def small_net():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(4), nn.Flatten(), nn.Linear(8 * 7 * 7, 10))


@pytest.fixture(scope="module")
def data():
    return FashionMNIST("train", limit=400), FashionMNIST("test", limit=200)


def conv_output_dtypes(model):
    seen = []
    model[0].register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", torch.bfloat16),
                                                   ("fp32", torch.float32)])
def test_fit_and_evaluate_run_the_convolution_in_the_chosen_precision(data, precision, dtype):
    seed_everything(0)
    model = small_net()
    seen = conv_output_dtypes(model)
    fit(model, BatchLoader(data[0], 100, shuffle=True), BatchLoader(data[1], 100), epochs=1,
        optimizer="sgd", lr=0.05, scheduler=None, device="cpu", precision=precision,
        progress=False)
    assert len(seen) == 4 + 2                      # 4 training steps, 2 evaluation batches
    assert set(seen) == {dtype}
    # weights, gradients and the optimiser's state stay fp32 under autocast
    assert all(p.dtype == torch.float32 for p in model.parameters())
    seen.clear()
    evaluate(model, BatchLoader(data[1], 100), "cpu", precision=precision)
    assert set(seen) == {dtype}


def test_bf16_gradients_and_optimizer_state_stay_fp32(data):
    seed_everything(0)
    model = small_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    fit(model, BatchLoader(data[0], 100), None, epochs=1, optimizer=optimizer, scheduler=None,
        device="cpu", precision="bf16", progress=False)
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())
    buffers = [s["momentum_buffer"] for s in optimizer.state.values()]
    assert buffers and all(b.dtype == torch.float32 for b in buffers)


def test_fp32_training_equals_a_plain_pytorch_loop(data):
    """The fp32 path is what it was: fit's weights equal a hand-written SGD loop's, bit for bit."""
    loader = BatchLoader(data[0], 100)
    seed_everything(3)
    ours = small_net()
    reference = small_net()
    reference.load_state_dict(ours.state_dict())
    fit(ours, loader, None, epochs=2, optimizer="sgd", lr=0.05, weight_decay=5e-4,
        scheduler=None, device="cpu", precision="fp32", progress=False)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    reference.train()
    for _ in range(2):
        for x, y in loader:
            loss = nn.functional.cross_entropy(reference(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for a, b in zip(ours.state_dict().values(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_bf16_loss_is_close_to_fp32_on_a_fixed_batch(data):
    seed_everything(1)
    model = RECIPES["resnet"].build().eval()
    x, y = next(iter(BatchLoader(data[1], 200)))
    with torch.no_grad():
        fp32 = nn.functional.cross_entropy(model(x), y).item()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = nn.functional.cross_entropy(model(x).float(), y).item()
    ours = evaluate(model, [(x, y)], "cpu", precision="bf16")[0]
    assert ours == pytest.approx(bf16, rel=1e-6)        # evaluate uses exactly this autocast
    assert ours != fp32                                 # bf16 really rounds ...
    assert ours == pytest.approx(fp32, rel=0.02)        # ... but only a little (8-bit mantissa)
    assert evaluate(model, [(x, y)], "cpu")[0] == pytest.approx(fp32, rel=1e-6)


def test_recipes_carry_their_precision_to_fit():
    for recipe in RECIPES.values():
        assert recipe.fit_kwargs()["precision"] == recipe.precision
    bf16 = dataclasses.replace(RECIPES["resnet"], precision="bf16")
    assert bf16.fit_kwargs()["precision"] == "bf16"


@pytest.mark.parametrize("bad", ["fp16", "bfloat16", "", None])
def test_a_bad_precision_is_refused_with_the_choices(data, bad):
    message = f"precision must be one of 'fp32', 'bf16', 'auto', got {bad!r}"
    with pytest.raises(ValueError, match=message):
        check_precision(bad)
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(RECIPES["alexnet"], precision=bad)
    with pytest.raises(ValueError, match=message):
        fit(small_net(), BatchLoader(data[0], 100), None, device="cpu", precision=bad,
            progress=False)
    with pytest.raises(ValueError, match=message):
        evaluate(small_net(), BatchLoader(data[1], 100), "cpu", precision=bad)


def test_bf16_on_a_device_without_autocast_is_refused_not_silently_fp32():
    with pytest.raises(ValueError, match="precision 'bf16' needs a device of type cpu or cuda"):
        autocast("bf16", "meta")
    assert Recipe("x", small_net, 1, 8, "sgd", 0.1, 0.0).precision == "fp32"   # the default


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu sse2 avx2 {extra}
processor\t: 1
"""


@pytest.mark.parametrize("extra, expected", [("", "fp32"), ("avx512f", "fp32"),
                                             ("avx512_bf16", "bf16"), ("amx_bf16 amx_tile", "bf16")])
def test_auto_is_bf16_only_where_the_cpu_computes_it_natively(tmp_path, monkeypatch, extra,
                                                              expected):
    monkeypatch.delenv("CNNEDU_PRECISION", raising=False)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True,
                        raising=False)
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO.format(extra=extra))
    flags = P.cpu_flags(info)
    assert {"fpu", "sse2", "avx2"} <= flags and set(extra.split()) <= flags
    assert P.resolve_precision("auto", "cpu", flags) == expected
    assert P.resolve_precision("fp32", "cpu", flags) == "fp32"      # named: never changed
    assert P.resolve_precision("bf16", "cpu", flags) == "bf16"
    assert P.resolve_precision("auto", "meta", flags) == "fp32"     # mps and others: fp32


def test_auto_without_onednn_bf16_or_cpuinfo_is_fp32(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNEDU_PRECISION", raising=False)
    assert P.cpu_flags(tmp_path / "missing") == set()
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False,
                        raising=False)
    assert P.resolve_precision("auto", "cpu", {"avx512_bf16"}) == "fp32"


def test_cnnedu_precision_overrides_auto_and_a_bad_value_is_named(monkeypatch):
    monkeypatch.setenv("CNNEDU_PRECISION", "fp32")
    assert P.resolve_precision("auto", "cpu", {"amx_bf16"}) == "fp32"
    monkeypatch.setenv("CNNEDU_PRECISION", "bf16")
    assert P.resolve_precision("auto", "cpu", set()) == "bf16"
    monkeypatch.setenv("CNNEDU_PRECISION", "half")
    with pytest.raises(ValueError, match="CNNEDU_PRECISION must be 'fp32' or 'bf16', got 'half'"):
        P.resolve_precision("auto", "cpu", set())


@pytest.mark.parametrize("chosen, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_fit_resolves_auto_and_records_what_ran(data, monkeypatch, chosen, dtype):
    monkeypatch.setenv("CNNEDU_PRECISION", chosen)
    model = small_net()
    seen = []
    model[0].register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    history = fit(model, BatchLoader(data[0], 100), None, device="cpu", precision="auto",
                  max_batches=1, progress=False)
    assert history.precision == chosen and seen[0] == dtype
