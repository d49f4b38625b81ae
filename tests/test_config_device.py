"""cnnedu.config and cnnedu.device: switches read from the environment, clear errors."""

import random

import numpy as np
import pytest
import torch

from cnnedu import config
from cnnedu.device import choose_device, get_device


@pytest.mark.parametrize("raw, expected", [("", False), ("0", False), ("1", True),
                                           ("true", True), ("No", False)])
def test_quick_mode_reads_the_switch(monkeypatch, raw, expected):
    monkeypatch.delenv("CNNEDU_SMOKE", raising=False)
    monkeypatch.setenv("CNNEDU_QUICK", raw)
    assert config.quick_mode() is expected


def test_quick_mode_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("CNNEDU_QUICK", "maybe")
    with pytest.raises(ValueError, match="CNNEDU_QUICK must be 0 or 1"):
        config.quick_mode()


def test_the_old_switch_name_is_an_error_not_a_silent_full_run(monkeypatch):
    monkeypatch.delenv("CNNEDU_QUICK", raising=False)
    monkeypatch.setenv("CNNEDU_SMOKE", "1")
    with pytest.raises(ValueError, match="CNNEDU_SMOKE was renamed CNNEDU_QUICK"):
        config.quick_mode()
    monkeypatch.setenv("CNNEDU_QUICK", "0")          # the new name set: it decides
    assert config.quick_mode() is False


def test_the_old_function_name_still_serves_old_lesson_copies(monkeypatch):
    monkeypatch.delenv("CNNEDU_SMOKE", raising=False)
    monkeypatch.setenv("CNNEDU_QUICK", "1")
    assert config.smoke_mode(None) is True and config.smoke_mode(False) is False


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNEDU_DATA", raising=False)
    assert config.data_dir() is None
    monkeypatch.setenv("CNNEDU_DATA", str(tmp_path))
    assert config.data_dir() == tmp_path


def test_seed_everything_makes_runs_repeatable():
    config.seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(3))
    config.seed_everything(7)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1] and torch.equal(first[2], second[2])
    config.seed_everything(8)
    assert random.random() != first[0] and not torch.equal(torch.rand(3), first[2])
    with pytest.raises(ValueError):
        config.seed_everything(-1)


def test_auto_device_explains_its_choice(monkeypatch):
    monkeypatch.delenv("CNNEDU_DEVICE", raising=False)
    choice = choose_device()
    assert choice.reason.startswith("auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and getattr(torch.backends, "mps", None) and \
            torch.backends.mps.is_available():
        expected = "mps"
    assert choice.device.type == expected
    assert str(choice.device) in str(choice)


def test_environment_override(monkeypatch):
    monkeypatch.setenv("CNNEDU_DEVICE", "cpu")
    choice = choose_device()
    assert choice.device == torch.device("cpu") and "CNNEDU_DEVICE" in choice.reason
    assert get_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "tpu", "cpu0"])
def test_bad_device_names_are_value_errors(name):
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        choose_device(name)


def test_absent_device_is_a_runtime_error_not_a_silent_fallback():
    if torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="GPU"):
            choose_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            choose_device("cuda")


def test_model_device():
    from torch import nn

    from cnnedu.device import model_device

    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.Linear(2, 2, device="meta")) == torch.device("meta")
    assert model_device(nn.ReLU()) == torch.device("cpu")     # no parameters


def test_quick_from_the_parameters_cell_overrides_the_environment(monkeypatch):
    monkeypatch.setenv("CNNEDU_QUICK", "0")
    assert config.quick_mode(True) is True
    monkeypatch.setenv("CNNEDU_QUICK", "1")
    assert config.quick_mode(False) is False and config.quick_mode(None) is True
    with pytest.raises(ValueError, match="QUICK must be True, False or None"):
        config.quick_mode("yes")
