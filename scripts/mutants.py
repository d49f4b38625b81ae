"""Mutation testing of the training side with mutmut: do the fast tests notice planted bugs?

    python scripts/mutants.py                      # or: ./course.sh mutants
    python scripts/mutants.py --max-mutants 80 --seconds 1200 --jobs 2

mutmut changes one thing at a time in the code (a ``<`` for a ``<=``, a constant, a dropped
call: a *mutant*) and runs the tests that cover that function; a mutant the tests pass with
*survived*: a bug the tests would not notice. This runs outside the normal suite, in a copy of
the repository under ``out/mutation/`` (the working tree is never touched), on the modules and
the fast test files named below, with a time limit and a cap on the number of mutants (a
seeded random sample of all of them, so a capped run still estimates the whole score fairly).

It writes ``out/mutants.txt`` (every survivor with its diff) and ``out/mutation-summary.md``
(the score per module), and prints the summary. ``tests/MUTANTS.md`` holds the last measured
summary. Score = killed / (killed + survived); mutants in functions no selected test runs
("no tests") and those that ran out of time are listed and counted apart.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["cnnedu/train/*", "cnnedu/data/*", "cnnedu/experiments.py", "cnnedu/recipes.py",
           "cnnedu/budget.py", "cnnedu/distributed/*"]
TESTS = ["tests/test_train.py", "tests/test_data.py", "tests/test_experiments.py",
         "tests/test_recipes.py", "tests/test_distributed.py", "tests/test_worker.py",
         "tests/test_launcher.py", "tests/test_feature_viewer_experiments.py",
         "tests/test_train_mutants.py", "tests/test_distributed_mutants.py",
         "tests/test_experiments_mutants.py", "tests/test_data_mutants.py",
         "tests/test_budget.py", "tests/test_timed_budget.py"]
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          34: "skipped", 35: "suspicious", 36: "timeout", 24: "timeout", 152: "timeout",
          255: "timeout", -24: "timeout", -11: "killed", -9: "killed", None: "not run"}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", nargs="+", default=MODULES, help="globs of files to mutate")
    parser.add_argument("--tests", nargs="+", default=TESTS, help="test files to run")
    parser.add_argument("--max-mutants", type=int, default=120,
                        help="run a seeded random sample of at most this many mutants")
    parser.add_argument("--seconds", type=float, default=1800,
                        help="time limit of the mutant runs (what finished is reported)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "mutation")
    args = parser.parse_args(argv)
    for name in ("max_mutants", "jobs"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1, got "
                             f"{getattr(args, name)}")
    return args


def prepare(work: Path, modules: list[str], tests: list[str]) -> None:
    """A fresh copy of the tracked files in ``work``, with mutmut's settings in setup.cfg."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)
    markers = "not browser and not notebook and not slow"
    (work / "setup.cfg").write_text(
        "[mutmut]\nsource_paths=cnnedu/\n"
        "only_mutate=" + "\n    ".join(modules) + "\n"
        "pytest_add_cli_args_test_selection=" + "\n    ".join(tests) + "\n"
        f"pytest_add_cli_args=-m\n    {markers}\n    -p\n    no:cacheprovider\n"
        "also_copy=scripts/\n    jupyter/\n")


def mutmut(work: Path, *args: str, timeout: float | None = None) -> int:
    """Run ``mutmut ARGS`` in ``work``; its return code (124 when it ran out of time)."""
    command = [sys.executable, "-m", "mutmut", *args]
    try:
        return subprocess.run(command, cwd=work, timeout=timeout, stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT).returncode
    except subprocess.TimeoutExpired:
        return 124


def all_results(work: Path) -> dict[str, int | None]:
    """Every generated mutant's exit code (None: not run), from mutmut's .meta files."""
    codes: dict[str, int | None] = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def module_of(name: str) -> str:
    """``cnnedu.train.loop.x_fit__mutmut_3`` -> ``cnnedu.train.loop``."""
    return name.rsplit(".", 1)[0]


def summary(codes: dict[str, int | None], sampled: list[str], seconds: float,
            args: argparse.Namespace) -> str:
    rows = {}
    for name in sampled:
        rows.setdefault(module_of(name), Counter())[STATUS.get(codes.get(name), "other")] += 1
    total = sum(rows.values(), Counter())
    lines = [f"Mutation run: {len(sampled)} of {len(codes)} mutants (seeded sample, seed "
             f"{args.seed}), {seconds / 60:.1f} min, {args.jobs} at once; tests: "
             f"{' '.join(args.tests)} (not browser, notebook or slow).", "",
             "| module | killed | survived | no tests | timeout | not run | score |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for module, count in sorted(rows.items()) + [("**all**", total)]:
        tried = count["killed"] + count["survived"]
        score = f"{100 * count['killed'] / tried:.0f} %" if tried else "-"
        lines.append(f"| {module} | {count['killed']} | {count['survived']} | "
                     f"{count['no tests']} | {count['timeout']} | {count['not run']} | {score} |")
    tried = total["killed"] + total["survived"]
    with_untested = tried + total["no tests"]
    if tried:
        lines += ["", f"Score: {100 * total['killed'] / tried:.1f} % of the mutants that ran "
                      f"were killed ({total['killed']} / {tried}); counting mutants no test "
                      f"reaches as survivors: {100 * total['killed'] / with_untested:.1f} %."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    start = time.perf_counter()
    prepare(args.work, args.modules, args.tests)
    print(f"generating mutants and mapping tests to functions in {args.work} ...", flush=True)
    # A filter that matches nothing: mutmut generates the mutants and collects which tests
    # cover which function, then stops before running any mutant.
    mutmut(args.work, "run", "--max-children", str(args.jobs), "none-matches-this")
    codes = all_results(args.work)
    if not codes:
        raise SystemExit(f"mutmut generated no mutants in {args.work} (see `mutmut run` there)")
    sampled = sorted(codes)
    random.Random(args.seed).shuffle(sampled)
    sampled = sorted(sampled[:args.max_mutants])
    print(f"{len(codes)} mutants; running {len(sampled)} for at most {args.seconds:.0f} s",
          flush=True)
    mutmut(args.work, "run", "--max-children", str(args.jobs), *sampled,
           timeout=args.seconds)
    codes = all_results(args.work)
    survivors = [n for n in sampled if STATUS.get(codes.get(n)) == "survived"]
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    with (out / "mutants.txt").open("w") as handle:
        for name in survivors:
            diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=args.work,
                                  capture_output=True, text=True).stdout
            handle.write(diff.rstrip() + "\n\n")
    text = summary(codes, sampled, time.perf_counter() - start, args)
    (out / "mutation-summary.md").write_text(text)
    print(text + f"\nsurvivors and their diffs: {out / 'mutants.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
