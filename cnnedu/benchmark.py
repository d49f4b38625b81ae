"""``python -m cnnedu.benchmark --lesson alexnet|resnet [--seeds 0,1,2] [--json out.json]``.

Trains a lesson's model with its full-mode recipe on the full Fashion-MNIST (60k/10k) and
reports the test accuracy (evaluated in the recipe's precision, fp32 or bf16 autocast, and with
test-time flip averaging where the recipe says ``eval_flip``) and the wall time of the *whole
process* (imports and data loading included), so the figure is what a learner waits for.
``--seeds 0,1,2`` runs one fresh process per seed (so each time is still a whole process) and
reports every run, the mean and the minimum: a claim about a recipe must hold for any seed, not
for the one that was tried.

The figures are promised on the full data: when only the bundled 2,000-image subset is found
(or ``CNNEDU_DATA=bundled``), the benchmark refuses with the fix (``./course.sh data``) unless
``--allow-subset`` asks for it; every record names the data it used (``data``, ``full_data``).
"""

from __future__ import annotations

import time

_PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from cnnedu import config  # noqa: E402
from cnnedu.data import SPLIT_SIZES, FashionMNIST, find_split  # noqa: E402
from cnnedu.device import choose_device  # noqa: E402
from cnnedu.recipes import RECIPES, get_recipe  # noqa: E402
from cnnedu.train import evaluate, fit  # noqa: E402


class SubsetRefused(RuntimeError):
    """Only a subset of Fashion-MNIST was found and ``allow_subset`` was not given."""


def refuse_subset(train_source, test_source, full: bool, allow_subset: bool) -> None:
    """Raise :class:`SubsetRefused` (naming the data found and the fix) unless ``full`` or allowed."""
    if full or allow_subset:
        return
    sources = sorted({str(train_source), str(test_source)})
    raise SubsetRefused(
        f"the benchmark reports results on the full Fashion-MNIST (60,000 train / 10,000 test "
        f"images), but only {' and '.join(sources)} was found. Fix: `./course.sh data` "
        f"(fetches the full data), or pass --allow-subset to time the subset anyway (the record "
        f"then says full_data: false).")


def check_data(allow_subset: bool) -> None:
    """Before any training: refuse when the data found is not the full Fashion-MNIST."""
    found = {split: find_split(split) for split in SPLIT_SIZES}
    full = all(len(found[split][1]) == SPLIT_SIZES[split] for split in SPLIT_SIZES)
    refuse_subset(found["train"][2], found["test"][2], full, allow_subset)


def run(lesson: str, device: str | None = None, seed: int = 0, progress: bool = False,
        epochs: int | None = None, train_limit: int | None = None,
        allow_subset: bool = False) -> dict:
    """Train ``lesson``'s recipe once and return the result record (see module docstring).

    Raises :class:`SubsetRefused` before training when the data is not the full Fashion-MNIST
    and ``allow_subset`` is False (``train_limit`` is a deliberate subset of the full data).
    """
    recipe = get_recipe(lesson)
    config.seed_everything(seed)
    chosen = choose_device(device)
    train = FashionMNIST("train", seed=seed)
    test = FashionMNIST("test")
    full = train.is_full and test.is_full
    refuse_subset(train.source, test.source, full, allow_subset)
    if train_limit is not None:
        train = FashionMNIST("train", limit=train_limit, seed=seed)
    loader = recipe.train_loader(train, chosen.device, seed=seed)
    test_loader = recipe.test_loader(test, chosen.device)
    model = recipe.build()
    kwargs = recipe.fit_kwargs()
    if epochs is not None:
        kwargs["epochs"] = epochs
    history = fit(model, loader, None, device=chosen.device, progress=progress, **kwargs)
    _, accuracy = evaluate(model, test_loader, chosen.device, precision=history.precision,
                           flip=recipe.eval_flip)
    return {
        "lesson": lesson,
        "test_accuracy": round(accuracy, 4),
        "seconds": round(time.perf_counter() - _PROCESS_START, 1),
        "epochs": kwargs["epochs"],
        "batch_size": recipe.batch_size,
        "precision": history.precision,
        "eval_flip": recipe.eval_flip,
        "device": str(chosen.device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "data": str(train.source),
        "full_data": full,
        "train_images": len(train),
        "test_images": len(test),
    }


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``; anything else is a ValueError naming the value."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must be distinct non-negative integers like 0,1,2, got {text!r}")
    return seeds


def run_seeds(lesson: str, seeds: list[int], extra: list[str]) -> dict:
    """One fresh ``python -m cnnedu.benchmark`` process per seed; every run, mean and minimum."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            out = Path(tmp) / f"seed{seed}.json"
            subprocess.run([sys.executable, "-m", "cnnedu.benchmark", "--lesson", lesson,
                            "--seed", str(seed), "--json", str(out), *extra], check=True)
            runs.append({"seed": seed, **json.loads(out.read_text())})
    accuracies = [r["test_accuracy"] for r in runs]
    seconds = [r["seconds"] for r in runs]
    return {"lesson": lesson, "runs": runs, "data": runs[0]["data"],
            "full_data": all(r["full_data"] for r in runs),
            "mean_accuracy": round(statistics.fmean(accuracies), 4),
            "min_accuracy": min(accuracies), "max_accuracy": max(accuracies),
            "mean_seconds": round(statistics.fmean(seconds), 1), "max_seconds": max(seconds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnedu.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", required=True, choices=sorted(RECIPES))
    parser.add_argument("--json", type=Path, help="write the result record to this file")
    parser.add_argument("--device", help="cpu, cuda, mps or auto (default: CNNEDU_DEVICE/auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", help="comma-separated seeds, one process each: 0,1,2")
    parser.add_argument("--epochs", type=int, help="override the recipe (for quick checks)")
    parser.add_argument("--train-limit", type=int, help="train on a subset (for quick checks)")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("--allow-subset", action="store_true",
                        help="run even when only the bundled subset is found (not a result)")
    args = parser.parse_args(argv)
    if args.seeds is not None:
        try:
            seeds = parse_seeds(args.seeds)
        except ValueError as err:
            parser.error(str(err))
        try:   # once here, so that no seed's process starts on the wrong data
            check_data(args.allow_subset)
        except SubsetRefused as err:
            print(f"python -m cnnedu.benchmark: refused: {err}", file=sys.stderr)
            return 2
        extra = []   # the per-seed processes get the same overrides
        for flag, value in (("--device", args.device), ("--epochs", args.epochs),
                            ("--train-limit", args.train_limit)):
            if value is not None:
                extra += [flag, str(value)]
        if args.allow_subset:
            extra.append("--allow-subset")
        summary = run_seeds(args.lesson, seeds, extra)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"{args.lesson} over seeds {args.seeds}: " + ", ".join(
            f"seed {r['seed']} {r['test_accuracy']:.4f} in {r['seconds']:.0f} s"
            for r in summary["runs"]))
        print(f"{args.lesson}: mean {summary['mean_accuracy']:.4f}, min "
              f"{summary['min_accuracy']:.4f}, max {summary['max_accuracy']:.4f}; time mean "
              f"{summary['mean_seconds']:.0f} s, max {summary['max_seconds']:.0f} s; data: "
              f"{summary['data']}{'' if summary['full_data'] else ' (SUBSET)'}")
        return 0
    try:   # run() checks the data it loaded (no second read inside the timed process)
        result = run(args.lesson, args.device, args.seed, args.progress, args.epochs,
                     args.train_limit, args.allow_subset)
    except SubsetRefused as err:
        print(f"python -m cnnedu.benchmark: refused: {err}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['lesson']}: test accuracy {result['test_accuracy']:.4f} in "
          f"{result['seconds']:.1f} s ({result['epochs']} epochs, batch {result['batch_size']}, "
          f"{result['precision']}, {'flip-averaged, ' if result['eval_flip'] else ''}"
          f"{result['device']}, "
          f"torch {result['torch']}, {result['threads']} threads, {result['train_images']} "
          f"train / {result['test_images']} test images; data: {result['data']}"
          f"{'' if result['full_data'] else ', a SUBSET: not a benchmark result'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
