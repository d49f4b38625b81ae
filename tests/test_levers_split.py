"""benchmarks/levers.py: variants of a recipe, trained on the training images minus the
validation split of cnnedu.splits, judged on that split; the test split is never read."""

import dataclasses
import importlib.util
import json
from functools import partial
from pathlib import Path

import pytest

from cnnedu.data import FashionMNIST, balanced_indices
from cnnedu.recipes import RECIPES
from cnnedu.splits import hold_out, subset
from cnnedu.train import evaluate

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "levers.py"
spec = importlib.util.spec_from_file_location("levers", SCRIPT)
levers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(levers)


def test_a_variant_replaces_the_named_fields_with_their_types():
    name, recipe = levers.parse_variant(
        "fast:precision=bf16,batch_size=256,lr=0.4,augment=false,scheduler=None", "resnet")
    base = RECIPES["resnet"]
    assert name == "fast"
    assert (recipe.precision, recipe.batch_size, recipe.lr, recipe.augment, recipe.scheduler) == \
        ("bf16", 256, 0.4, False, None)
    assert (recipe.epochs, recipe.optimizer, recipe.weight_decay) == \
        (base.epochs, base.optimizer, base.weight_decay)              # the rest unchanged
    assert levers.parse_variant("plain:", "alexnet")[1].fit_kwargs() == \
        RECIPES["alexnet"].fit_kwargs()


def test_model_keys_rebuild_the_lessons_model():
    _, resnet = levers.parse_variant("narrow:width=12", "resnet")
    model = resnet.build()
    assert model.conv1.out_channels == 12 and model.fc.in_features == 48 and model.depth == 8
    assert model.conv1.stride == (1, 1)
    _, strided = levers.parse_variant("s2:stem_stride=2,lr=0.4", "resnet")
    assert strided.build().conv1.stride == (2, 2) and strided.lr == 0.4
    _, alexnet = levers.parse_variant("half:width=0.5", "alexnet")
    assert isinstance(alexnet.build, partial) and alexnet.build.keywords == {"width": 0.5}


@pytest.mark.parametrize(("text", "message"), [
    ("x:epoch=3", "variant 'x': unknown setting 'epoch'"),
    ("x:build=3", "variant 'x': unknown setting 'build'"),
    ("x:precision=fp16", "precision must be one of 'fp32', 'bf16', 'auto', got 'fp16'"),
    ("x:augment=maybe", "augment must be true or false, got 'maybe'"),
    ("x:lr", "variant 'x': settings are key=value, got 'lr'"),
    (":lr=0.1", "a variant needs a name before ':'"),
])
def test_a_bad_variant_is_refused_by_name(text, message):
    with pytest.raises(ValueError, match=message):
        levers.parse_variant(text, "resnet")


def test_a_trial_trains_on_train_minus_validation_and_never_reads_test(monkeypatch, tmp_path,
                                                                      capsys):
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    splits = []
    real = levers.FashionMNIST

    def recording(split="train", *args, **kwargs):
        splits.append(split)
        return real(split, *args, **kwargs)

    monkeypatch.setattr(levers, "FashionMNIST", recording)
    out = tmp_path / "runs.jsonl"
    assert levers.main(["--lesson", "alexnet", "--seeds", "0,1", "--train-limit", "100",
                        "--variant", "tiny:epochs=1,batch_size=50,width=0.25",
                        "--json", str(out)]) == 0
    assert splits == ["train"]
    printed = capsys.readouterr().out
    # the bundled 2,000 training images: 167 held out (1/12, as 5,000 of 60,000)
    assert "100 training / 167 validation images" in printed
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["variant"], r["seed"], r["steps"]) for r in runs] == [("tiny", 0, 2), ("tiny", 1, 2)]
    for run in runs:
        assert 0.0 <= run["val_accuracy"] <= 1.0
        # accuracy is a count of 167 images
        assert abs(run["val_accuracy"] * 167 - round(run["val_accuracy"] * 167)) < 1e-6
        # AlexNet's recipe evaluates one view; the flip-averaged score of the same model is kept
        assert run["eval_flip"] is False and run["val_accuracy"] == run["val_one_view"]
        assert 0.0 <= run["val_flip_averaged"] <= 1.0


def test_a_trial_scores_one_trained_model_both_ways(monkeypatch):
    """train_once's two accuracies are evaluate() of the *same* trained model without and with
    flip averaging (checked by scoring the model it trained again, outside)."""
    monkeypatch.setenv("CNNEDU_DATA", "bundled")
    trained = []
    real_build = RECIPES["resnet"].build

    def build():
        trained.append(real_build())
        return trained[-1]

    recipe = dataclasses.replace(RECIPES["resnet"], build=build, epochs=1, batch_size=100,
                                 precision="fp32")
    train, val = hold_out(FashionMNIST("train"))
    train = subset(train, balanced_indices(train.labels, 200, 0))
    _, one_view, flipped, steps = levers.train_once(recipe, 0, train, val)
    loader = recipe.test_loader(val, "cpu")
    assert one_view == evaluate(trained[0], loader, "cpu")[1]
    assert flipped == evaluate(trained[0], loader, "cpu", flip=True)[1]
    assert steps == 2
