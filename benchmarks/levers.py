"""Trial of recipe levers on the validation split: each variant over seeds, time and accuracy.

    python benchmarks/levers.py --lesson resnet [--seeds 0,1,2] [--train-limit N]
        [--variant NAME:field=value,field=value ...] [--json out.json]

A *variant* is the lesson's recipe (:mod:`cnnedu.recipes`) with some fields replaced, e.g.
``--variant bf16:precision=bf16`` or ``--variant bf16-bs256:precision=bf16,batch_size=256,lr=0.4``.
Any :class:`~cnnedu.recipes.Recipe` field may be set (values are converted to the field's type),
and the model keys ``width``, ``depth`` and ``stem_stride`` rebuild the lesson's model with that
width (AlexNet: a factor; ResNet: channels of the first stage), depth or stem stride (ResNet).
Without ``--variant`` the default trial is the precision lever: ``fp32`` against ``bf16`` (the
recipe itself says ``auto``).

Every run trains with :func:`cnnedu.train.fit` (the loop of the lessons and the benchmark) on
the training images *minus* the class-balanced validation split of :func:`cnnedu.splits.hold_out`
(5,000 of the full 60,000, the same images for every variant and seed), then evaluates on that
validation split in the variant's precision, twice: one view, and with test-time flip
averaging (the image and its mirror image, probabilities averaged); ``val_accuracy`` is the
one the recipe uses (``eval_flip``). The test split is never read: a recipe is chosen on
validation, and only the chosen one is judged on test (``python -m cnnedu.benchmark``). Times
are training wall times of this process: on a shared machine compare variants measured in the
same run, or scale step counts by quiet step times.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from functools import partial
from pathlib import Path

import torch

from cnnedu import config
from cnnedu.data import FashionMNIST, balanced_indices
from cnnedu.models.alexnet import AlexNet
from cnnedu.models.resnet import resnet_mini
from cnnedu.recipes import RECIPES, Recipe
from cnnedu.splits import hold_out, subset
from cnnedu.train import evaluate, fit

DEFAULT_VARIANTS = ("fp32:precision=fp32", "bf16:precision=bf16")
MODEL_KEYS = ("width", "depth", "stem_stride")


def _convert(field: dataclasses.Field, text: str):
    kind = str(field.type)
    if text in ("None", "none") and "None" in kind:
        return None
    if kind.startswith("bool"):
        if text not in ("true", "false", "True", "False", "1", "0"):
            raise ValueError(f"{field.name} must be true or false, got {text!r}")
        return text in ("true", "True", "1")
    if kind.startswith("int"):
        return int(text)
    if kind.startswith("float"):
        return float(text)
    return text


def parse_variant(text: str, lesson: str) -> tuple[str, Recipe]:
    """``"NAME:key=value,..."`` -> (NAME, the lesson's recipe with those fields replaced).

    A ValueError names the unknown key or the bad value, so a typo never runs the plain recipe.
    """
    name, _, settings = text.partition(":")
    if not name:
        raise ValueError(f"a variant needs a name before ':', got {text!r}")
    recipe = RECIPES[lesson]
    fields = {f.name: f for f in dataclasses.fields(Recipe)}
    changes, model = {}, {}
    for item in filter(None, settings.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"variant {name!r}: settings are key=value, got {item!r}")
        if key in MODEL_KEYS:
            model[key] = float(value) if (key == "width" and lesson == "alexnet") else int(value)
        elif key in fields and key not in ("name", "build"):
            changes[key] = _convert(fields[key], value)
        else:
            raise ValueError(f"variant {name!r}: unknown setting {key!r}; use a Recipe field "
                             f"({', '.join(k for k in fields if k not in ('name', 'build'))}) "
                             f"or {', '.join(MODEL_KEYS)}")
    if model:
        if lesson == "alexnet":
            if set(model) != {"width"}:
                raise ValueError(f"variant {name!r}: AlexNet takes only width, got {sorted(model)}")
            changes["build"] = partial(AlexNet, width=model["width"])
        else:
            changes["build"] = partial(resnet_mini, depth=model.get("depth", 8),
                                       width=model.get("width", 16),
                                       stem_stride=model.get("stem_stride", 1))
    return name, dataclasses.replace(recipe, name=f"{lesson}:{name}", **changes)


def train_once(recipe: Recipe, seed: int, train: FashionMNIST,
               val: FashionMNIST) -> tuple[float, float, float, int]:
    """(training seconds, validation accuracy with one view, with flip averaging, steps) of one
    run of ``recipe``: the same trained model scored both ways, a paired comparison."""
    config.seed_everything(seed)
    loader = recipe.train_loader(train, "cpu", seed=seed)
    model = recipe.build()
    start = time.perf_counter()
    history = fit(model, loader, None, device="cpu", progress=False, **recipe.fit_kwargs())
    seconds = time.perf_counter() - start
    val_loader = recipe.test_loader(val, "cpu")
    one_view, flipped = (evaluate(model, val_loader, "cpu", precision=history.precision,
                                  flip=flip)[1] for flip in (False, True))
    return seconds, one_view, flipped, len(loader) * recipe.epochs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", required=True, choices=sorted(RECIPES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variant", action="append", help="NAME:field=value,... (repeatable)")
    parser.add_argument("--train-limit", type=int, help="train on a balanced subset (trials)")
    parser.add_argument("--json", type=Path, help="append every run as one JSON line here")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    try:
        variants = [parse_variant(v, args.lesson) for v in args.variant or DEFAULT_VARIANTS]
    except ValueError as err:
        parser.error(str(err))
    train, val = hold_out(FashionMNIST("train"))
    if args.train_limit:
        train = subset(train, balanced_indices(train.labels, args.train_limit, 0))
    print(f"{args.lesson}: {len(train)} training / {len(val)} validation images "
          f"(from {train.source}), {torch.get_num_threads()} threads, seeds {seeds}", flush=True)
    summary = []
    for name, recipe in variants:
        runs = []
        for seed in seeds:
            seconds, one_view, flipped, steps = train_once(recipe, seed, train, val)
            accuracy = flipped if recipe.eval_flip else one_view    # as the recipe evaluates
            runs.append((seconds, accuracy))
            print(f"  {name}: seed {seed} val {accuracy:.4f} (one view {one_view:.4f}, "
                  f"flip-averaged {flipped:.4f}) in {seconds:.0f} s ({steps} steps)", flush=True)
            if args.json:
                with args.json.open("a") as handle:
                    handle.write(json.dumps({"lesson": args.lesson, "variant": name,
                                             "seed": seed, "val_accuracy": accuracy,
                                             "val_one_view": one_view,
                                             "val_flip_averaged": flipped,
                                             "eval_flip": recipe.eval_flip,
                                             "seconds": seconds, "steps": steps}) + "\n")
        accs = [a for _, a in runs]
        summary.append((name, statistics.fmean(accs), min(accs), max(accs),
                        statistics.fmean(t for t, _ in runs), steps))
    print("variant            val acc mean [min, max]     train s (busy-machine wall)  steps")
    for name, mean, low, high, seconds, steps in summary:
        print(f"{name:18} {mean:.4f} [{low:.4f}, {high:.4f}]   {seconds:8.1f}   {steps:6d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
