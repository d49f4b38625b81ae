"""The benchmark CLI end to end on a tiny budget (the real figures come from the full run)."""

import json
import os
import subprocess
import sys

import pytest

from cnnedu import benchmark, data
from cnnedu.recipes import get_recipe

BUNDLED = {**os.environ, "CNNEDU_DATA": "bundled"}


def cli_error(argv: list[str], capsys):
    """What ``python -m cnnedu.benchmark argv`` prints (``.out``, ``.err``) when it exits with
    status 2 (in this process: argument errors need no fresh interpreter; the training runs here
    have one)."""
    try:
        status = benchmark.main(argv)
    except SystemExit as stop:                           # argparse's own errors
        status = stop.code
    assert status == 2
    return capsys.readouterr()


def test_unknown_lesson_is_rejected(capsys):
    with pytest.raises(ValueError, match="alexnet"):
        get_recipe("lenet")
    assert "invalid choice" in cli_error(["--lesson", "lenet"], capsys).err


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
    assert "seed 0" in result.stdout and "seed 1" in result.stdout and "min" in result.stdout
    # each seed is one plain `python -m cnnedu.benchmark --json` run: its record as promised
    for record in summary["runs"]:
        assert {"lesson", "test_accuracy", "seconds", "epochs", "device", "torch",
                "threads"} <= set(record)
        assert record["lesson"] == "alexnet" and record["epochs"] == 1
        assert record["test_images"] == 10000 and record["device"] == "cpu"
        assert record["train_images"] == 300               # --train-limit reached the data
        assert record["full_data"] is True and "bundled" not in record["data"]
        assert 0.0 <= record["test_accuracy"] <= 1.0
        assert f"alexnet: test accuracy {record['test_accuracy']:.4f}" in result.stdout
    assert f"data: {summary['data']})" in result.stdout


@pytest.mark.parametrize("seeds", ["", "0,,1", "a", "-1", "0,0"])
def test_bad_seeds_are_a_clear_error(seeds, capsys):
    assert "--seeds must be distinct non-negative" in \
        cli_error(["--lesson", "alexnet", "--seeds", seeds], capsys).err


@pytest.mark.parametrize("extra", [[], ["--seeds", "0,1"]])
def test_the_bundled_subset_is_refused_with_the_fix(tmp_path, extra, monkeypatch, capsys):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    out = tmp_path / "out.json"
    printed = cli_error(["--lesson", "alexnet", "--json", str(out), *extra], capsys)
    assert "./course.sh data" in printed.err and "--allow-subset" in printed.err
    assert "bundled subset" in printed.err              # names what it found
    assert not out.exists() and "test accuracy" not in printed.out


def test_a_silent_fallback_to_the_bundle_is_refused_too(monkeypatch):
    """No folder holds the data (a fresh clone offline): the loader falls back to the bundle,
    and the benchmark refuses before training instead of reporting its accuracy."""
    monkeypatch.delenv("CNNEDU_DATA", raising=False)
    monkeypatch.setattr(data.sources, "candidate_folders", lambda root=None: [])
    assert data.find_split("test")[2].path is None       # the fall-back really happened
    with pytest.raises(benchmark.SubsetRefused, match=r"cnnedu/data_bundle.*\./course\.sh data"):
        benchmark.run("alexnet", device="cpu", epochs=1)
    with pytest.raises(benchmark.SubsetRefused):
        benchmark.check_data(allow_subset=False)
    benchmark.check_data(allow_subset=True)              # asked for: no error


@pytest.mark.slow
def test_allow_subset_runs_and_the_record_says_so(tmp_path):
    out = tmp_path / "out.json"
    result = subprocess.run(
        [sys.executable, "-m", "cnnedu.benchmark", "--lesson", "alexnet", "--json", str(out),
         "--epochs", "1", "--train-limit", "200", "--device", "cpu", "--allow-subset"],
        capture_output=True, text=True, timeout=300, check=True, env=BUNDLED)
    record = json.loads(out.read_text())
    assert record["full_data"] is False and "bundled subset" in record["data"]
    assert record["train_images"] == 200 and record["test_images"] == 1000
    assert "a SUBSET: not a benchmark result" in result.stdout


def test_the_benchmark_scores_with_flip_averaging_exactly_when_the_recipe_says(monkeypatch):
    """The record's test accuracy is ``evaluate(..., flip=recipe.eval_flip)`` of the trained
    model: the evaluation is watched (the real one still runs) for both settings."""
    import dataclasses

    from cnnedu.train import evaluate as real_evaluate
    for flip in (True, False):
        recipe = dataclasses.replace(get_recipe("resnet"), eval_flip=flip, epochs=1)
        monkeypatch.setattr(benchmark, "get_recipe", lambda lesson, recipe=recipe: recipe)
        seen = []

        def watching(model, loader, device, precision="fp32", flip=False, seen=seen):
            seen.append(flip)
            return real_evaluate(model, loader, device, max_batches=1, precision=precision,
                                 flip=flip)

        monkeypatch.setattr(benchmark, "evaluate", watching)
        record = benchmark.run("resnet", device="cpu", epochs=1, train_limit=256,
                               allow_subset=True)     # a learner's machine may lack the full data
        assert seen == [flip] and record["eval_flip"] is flip
