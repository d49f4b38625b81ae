"""The benchmark CLI end to end on a tiny budget (the real figures come from the full run)."""

import json
import subprocess
import sys

import pytest

from cnnedu.recipes import get_recipe


@pytest.mark.slow
def test_cli_writes_the_promised_record(tmp_path):
    out = tmp_path / "out.json"
    result = subprocess.run(
        [sys.executable, "-m", "cnnedu.benchmark", "--lesson", "alexnet", "--json", str(out),
         "--epochs", "1", "--train-limit", "500", "--device", "cpu"],
        capture_output=True, text=True, timeout=300, check=True)
    record = json.loads(out.read_text())
    assert {"lesson", "test_accuracy", "seconds", "epochs", "device", "torch", "threads"} <= \
        set(record)
    assert record["lesson"] == "alexnet" and record["epochs"] == 1
    assert record["test_images"] == 10000 and record["device"] == "cpu"
    assert record["train_images"] == 500                 # --train-limit reached the data
    assert 0.0 <= record["test_accuracy"] <= 1.0
    assert f"alexnet: test accuracy {record['test_accuracy']:.4f}" in result.stdout


def test_unknown_lesson_is_rejected():
    with pytest.raises(ValueError, match="alexnet"):
        get_recipe("lenet")
    result = subprocess.run([sys.executable, "-m", "cnnedu.benchmark", "--lesson", "lenet"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.slow
def test_seeds_report_every_run_the_mean_and_the_minimum(tmp_path):
    out = tmp_path / "seeds.json"
    result = subprocess.run(
        [sys.executable, "-m", "cnnedu.benchmark", "--lesson", "alexnet", "--seeds", "0,1",
         "--json", str(out), "--epochs", "1", "--train-limit", "300", "--device", "cpu"],
        capture_output=True, text=True, timeout=600, check=True)
    summary = json.loads(out.read_text())
    accuracies = [run["test_accuracy"] for run in summary["runs"]]
    assert [run["seed"] for run in summary["runs"]] == [0, 1]
    assert summary["min_accuracy"] == min(accuracies)
    assert summary["mean_accuracy"] == pytest.approx(sum(accuracies) / 2, abs=1e-4)
    assert all(run["epochs"] == 1 and run["train_images"] == 300 for run in summary["runs"])
    assert "seed 0" in result.stdout and "seed 1" in result.stdout and "min" in result.stdout


@pytest.mark.parametrize("seeds", ["", "0,,1", "a", "-1", "0,0"])
def test_bad_seeds_are_a_clear_error(seeds):
    result = subprocess.run([sys.executable, "-m", "cnnedu.benchmark", "--lesson", "alexnet",
                             "--seeds", seeds], capture_output=True, text=True)
    assert result.returncode == 2 and "--seeds must be distinct non-negative" in result.stderr
