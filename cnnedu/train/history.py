"""What a training run did: per-epoch measures and every step's loss (:class:`History`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class History:
    """What happened during ``fit``: one entry per epoch, plus the loss of every step."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    precision: str = "fp32"     # what the forward passes ran in ("auto" resolved by fit)

    def recent_loss(self, steps: int) -> float:
        """Mean training loss of the last ``steps`` steps (NaN before the first step).

        A smoother "final training loss" than the last step's alone, whose batch is luck.
        """
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        tail = self.step_loss[-steps:]
        return sum(tail) / len(tail) if tail else float("nan")

    @property
    def final_test_acc(self) -> float:
        return self.test_acc[-1] if self.test_acc else float("nan")
