"""The benchmark CLI end to end on a tiny budget (the real figures come from the full run)."""

import json
import subprocess
import sys

import pytest

from cnnedu.recipes import get_recipe


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
    assert 0.0 <= record["test_accuracy"] <= 1.0
    assert "alexnet: test accuracy" in result.stdout


def test_unknown_lesson_is_rejected():
    with pytest.raises(ValueError, match="alexnet"):
        get_recipe("lenet")
    result = subprocess.run([sys.executable, "-m", "cnnedu.benchmark", "--lesson", "lenet"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr
