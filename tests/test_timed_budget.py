"""The time-indexed one-cycle schedule follows PyTorch's OneCycleLR step for step when the clock
ticks once per step, and a budgeted run stops when its time is spent (a slow model gets fewer
steps, not more time)."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from cnnedu.budget import train_with_budget
from cnnedu.data import FashionMNIST
from cnnedu.train.timed import TimedOneCycle


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _reference(optimizer_class, total, **kwargs):
    params = [nn.Parameter(torch.zeros(2))]
    optimizer = optimizer_class(params, lr=0.4, **kwargs)
    # OneCycleLR's warm-up ends at step pct_start * total - 1 and its curve at step total - 1;
    # a clock of one unit per step and a budget of total - 1 units puts the timed warm-up end at
    # 0.25 * (total - 1): pick pct_start so both phases end at the same step.
    pct = (0.25 * (total - 1) + 1) / total
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.4, total_steps=total,
                                                   pct_start=pct)
    key = "betas" if "betas" in optimizer.param_groups[0] else "momentum"
    values = []
    for _ in range(total):
        group = optimizer.param_groups[0]
        values.append((group["lr"], group[key][0] if key == "betas" else group[key]))
        optimizer.step()
        schedule.step()
    return values


@pytest.mark.parametrize("optimizer_class, kwargs", [
    (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    (torch.optim.AdamW, {}),
])
def test_timed_one_cycle_equals_onecycle_lr_when_time_is_steps(optimizer_class, kwargs):
    total = 41
    expected = _reference(optimizer_class, total, **kwargs)
    clock = FakeClock()
    optimizer = optimizer_class([nn.Parameter(torch.zeros(2))], lr=0.4, **kwargs)
    schedule = TimedOneCycle(optimizer, seconds=total - 1, clock=clock)
    got = []
    for _ in range(total):
        group = optimizer.param_groups[0]
        got.append((group["lr"], group["betas"][0] if "betas" in group else group["momentum"]))
        clock.now += 1.0
        schedule.step()
    assert torch.allclose(torch.tensor(got, dtype=torch.float64),
                          torch.tensor(expected, dtype=torch.float64), rtol=1e-9, atol=1e-12)
    assert schedule.share_spent() == 1.0


def test_timed_one_cycle_refuses_nonsense():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="seconds must be positive"):
        TimedOneCycle(optimizer, 0)
    with pytest.raises(ValueError, match="warmup must be a share"):
        TimedOneCycle(optimizer, 1.0, warmup=1.0)


class SlowNet(nn.Module):
    """A linear classifier whose every forward pass takes ``delay`` seconds."""

    def __init__(self, delay):
        super().__init__()
        self.delay, self.linear = delay, nn.Linear(784, 10)

    def forward(self, x):
        time.sleep(self.delay)
        return self.linear(x.flatten(1))


@pytest.fixture(scope="module")
def tiny_data():
    return FashionMNIST("train", limit=256), FashionMNIST("test", limit=100)


def test_a_budgeted_run_stops_when_its_time_is_spent(tiny_data):
    train, val = tiny_data
    budget, delay = 0.4, 0.05
    model, history, steps = train_with_budget(lambda: SlowNet(delay), train, val, budget,
                                              batch_size=32, device="cpu", channels_last=False)
    # every step takes >= 50 ms, so at most budget / delay steps start, and the run ends within
    # about one step of the budget (the last step may start just before it is spent)
    assert 1 <= steps <= budget / delay + 1
    mean_step = history.seconds[-1] / steps    # measured: a busy machine stretches every step
    assert budget <= history.seconds[-1] <= budget + 2 * mean_step
    assert len(history.step_loss) == steps and 0 <= history.final_test_acc <= 1
    assert not model.training


def test_the_budgeted_run_ends_at_the_schedules_floor(tiny_data):
    train, val = tiny_data
    seen = []
    original = TimedOneCycle.step

    def spy(self):
        original(self)
        seen.append(self.optimizer.param_groups[0]["lr"])

    pytest.MonkeyPatch().setattr(TimedOneCycle, "step", spy)
    try:
        train_with_budget(lambda: SlowNet(0.01), train, val, 0.3, batch_size=32, lr=0.01,
                          device="cpu", channels_last=False)
    finally:
        pytest.MonkeyPatch().undo()
    peak = max(seen)
    assert peak <= 0.01 + 1e-12 and peak > 0.005         # the warm-up reached (near) the peak
    assert seen[-1] < 0.01 / 25 / 10                       # and the curve was annealed at the end


def test_budget_must_be_positive(tiny_data):
    train, val = tiny_data
    with pytest.raises(ValueError, match="seconds must be positive"):
        train_with_budget(lambda: SlowNet(0.0), train, val, 0)
