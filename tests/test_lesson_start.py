"""cnnedu.lesson.start_lesson: the parameters cell of the training lessons."""

import pytest
import torch

from cnnedu.lesson import start_lesson


@pytest.fixture
def bundled_cpu(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    monkeypatch.setenv("CNNEDU_DEVICE", "cpu")
    monkeypatch.delenv("CNNEDU_SMOKE", raising=False)
    monkeypatch.delenv("CNNEDU_QUICK", raising=False)


def test_quick_overrides_the_environment_and_is_said(bundled_cpu, monkeypatch, capsys):
    monkeypatch.setenv("CNNEDU_QUICK", "1")
    quick, device = start_lesson(False)
    out = capsys.readouterr().out.splitlines()
    assert (quick, device) == (False, torch.device("cpu"))
    assert out[0] == "full mode | device: cpu"
    assert "bundled subset" in out[1] and any("NOT the full data" in line for line in out)


def test_none_follows_cnnedu_quick(bundled_cpu, monkeypatch, capsys):
    monkeypatch.setenv("CNNEDU_QUICK", "1")
    assert start_lesson(None)[0] is True
    assert capsys.readouterr().out.startswith("quick mode | device: cpu")


def test_it_seeds_torch(bundled_cpu):
    start_lesson(True, seed=3)
    first = torch.rand(3)
    torch.manual_seed(3)
    assert torch.equal(first, torch.rand(3))
    start_lesson(True, seed=4)
    assert not torch.equal(first, torch.rand(3))


def test_a_bad_quick_value_is_a_clear_error(bundled_cpu):
    with pytest.raises(ValueError, match="QUICK"):
        start_lesson("yes")
