"""benchmarks/utilization.py: each recipe's training step is timed in the precision it trains in."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch import nn

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "utilization.py"
spec = importlib.util.spec_from_file_location("utilization", SCRIPT)
utilization = importlib.util.module_from_spec(spec)
spec.loader.exec_module(utilization)


@pytest.mark.parametrize(("precision", "dtype"), [("fp32", torch.float32),
                                                   ("bf16", torch.bfloat16)])
def test_training_rate_steps_in_the_asked_precision(monkeypatch, precision, dtype):
    seen = []

    def build():
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Flatten(),
                              nn.Linear(4 * 28 * 28, 10))
        model[0].register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
        return model

    recipe = dataclasses.replace(utilization.RECIPES["resnet"], build=build, batch_size=8,
                                 precision="bf16")
    monkeypatch.setitem(utilization.RECIPES, "resnet", recipe)
    row = utilization.training_rate("resnet", 2, precision)
    assert set(seen) == {dtype} and len(seen) == 1 + 3 + 2     # counted, warm-up, timed steps
    # FLOPs of one step by hand: conv forward 2*8*4*9*784, linear 2*8*3136*10; backward twice
    # each (input and weight gradients), but the first layer's input needs no gradient
    conv, linear = 2 * 8 * 4 * 9 * 784, 2 * 8 * 3136 * 10
    assert row["flops_per_step"] == conv * 2 + linear * 3
    assert row["precision"] == precision and row["recipe_precision"] == (precision == "bf16")


def test_batch_and_compile_levers_reach_the_step(monkeypatch):
    """``--batch`` sets the timed batch (FLOPs scale with it); ``--compile`` times the model that
    torch.compile returns (a stand-in here that counts its calls: the real compile takes minutes)
    while the FLOPs are still counted on the eager model."""
    def build():
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 28 * 28, 10))

    recipe = dataclasses.replace(utilization.RECIPES["resnet"], build=build, batch_size=8)
    monkeypatch.setitem(utilization.RECIPES, "resnet", recipe)
    calls = []

    def fake_compile(model):
        def run(x):
            calls.append(x.shape[0])
            return model(x)
        return run

    monkeypatch.setattr(utilization.torch, "compile", fake_compile)
    eager = utilization.training_rate("resnet", 2, "fp32", batch=4)
    compiled = utilization.training_rate("resnet", 2, "fp32", batch=4, compiled=True)
    conv, linear = 2 * 4 * 4 * 9 * 784, 2 * 4 * 3136 * 10           # batch 4, by hand
    assert eager["flops_per_step"] == compiled["flops_per_step"] == conv * 2 + linear * 3
    assert (eager["batch"], eager["compiled"], compiled["compiled"]) == (4, False, True)
    assert calls == [4] * (3 + 2)                   # warm-up and timed steps, not the count


def test_time_floor_by_hand():
    """1 GFLOP per step of 100 images, 3 epochs of 60,000: 1.8 TFLOP; at 300 GFLOP/s that is
    6 s, 10 s at 60 %; finishing in 4 s would need 150 % of the peak."""
    floor = utilization.time_floor(1e9, 100, 3, 300e9, goal_s=4.0)
    assert floor["train_flops"] == pytest.approx(1.8e12)
    assert floor["seconds_at_peak"] == pytest.approx(6.0)
    assert floor["seconds_at_60_percent"] == pytest.approx(10.0)
    assert floor["percent_of_peak_needed"] == pytest.approx(150.0)
    assert "goal_s" not in utilization.time_floor(1e9, 100, 3, 300e9)
    assert utilization.time_floor(1e9, 100, 1, 1e9, images=200)["seconds_at_peak"] == 2.0


def test_main_puts_each_recipes_own_eager_row_against_its_own_peak_and_goal(
        monkeypatch, tmp_path, capsys):
    """The floor of each recipe comes from its own precision's eager row (not the other
    precision's, not the compiled one), over that precision's peak, against that recipe's goal:
    a stand-in for the timing gives each row FLOPs that say which row it is."""
    monkeypatch.setattr(utilization, "native_bf16", lambda device: True)
    peaks = {torch.float32: 100e9, torch.bfloat16: 400e9}
    monkeypatch.setattr(utilization, "matmul_peak", lambda dtype, size: peaks[dtype])
    flops = {("alexnet", False): 8e9, ("resnet", False): 7e9}

    def fake_rate(name, steps, precision, batch=None, compiled=False):
        own = utilization.resolve_precision(utilization.RECIPES[name].precision, "cpu")
        per_step = flops[(name, compiled)] * (1 if precision == own else 10)
        return {"recipe": name, "precision": precision, "compiled": compiled,
                "recipe_precision": precision == own, "batch": 100, "flops_per_step": per_step,
                "ms_per_step": 1.0, "warm_up_s": 0.0, "images_per_s": 1.0,
                "flops_per_s": per_step / 1e-3}

    monkeypatch.setattr(utilization, "training_rate", fake_rate)
    flops[("alexnet", True)] = flops[("resnet", True)] = 1.0         # a compiled row is ignored
    out = tmp_path / "u.json"
    assert utilization.main(["--compile", "--json", str(out)]) == 0
    floors = json.loads(out.read_text())["floors"]
    for name, goal in (("alexnet", 40.0), ("resnet", 60.0)):
        own = utilization.resolve_precision(utilization.RECIPES[name].precision, "cpu")
        peak = peaks[{"fp32": torch.float32, "bf16": torch.bfloat16}[own]]
        total = flops[(name, False)] / 100 * 60_000 * utilization.RECIPES[name].epochs
        assert floors[name]["train_flops"] == pytest.approx(total)
        assert floors[name]["seconds_at_peak"] == pytest.approx(total / peak)
        assert floors[name]["percent_of_peak_needed"] == pytest.approx(100 * total / goal / peak)
    assert "the 60 s goal needs" in capsys.readouterr().out
