"""Error-analysis helpers against hand-computed cases."""

import math

import pytest
import torch

from cnnedu.error_analysis import (
    confusion_matrix,
    most_confused,
    per_class_accuracy,
    reliability,
    row_normalised,
)

Y_TRUE = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = torch.tensor([0, 1, 1, 1, 0, 2, 2, 0, 1])


def test_confusion_matrix_hand_case():
    m = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert m.tolist() == [[1, 2, 0], [1, 1, 0], [1, 1, 2]]
    assert row_normalised(m)[0].tolist() == pytest.approx([1 / 3, 2 / 3, 0])
    assert per_class_accuracy(m).tolist() == pytest.approx([1 / 3, 1 / 2, 1 / 2])


def test_empty_class_gives_nan_accuracy_and_zero_row():
    m = confusion_matrix(torch.tensor([0, 0]), torch.tensor([0, 1]), 3)
    assert math.isnan(per_class_accuracy(m)[2]) and row_normalised(m)[2].tolist() == [0, 0, 0]


def test_most_confused_hand_case():
    m = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert most_confused(m, ["a", "b", "c"], top=3) == [("a", "b", 2), ("b", "a", 1),
                                                        ("c", "a", 1)]
    assert most_confused(m, top=10)[-1] == (2, 1, 1) and len(most_confused(m, top=10)) == 4


def test_reliability_and_ece_hand_case():
    # confidences 0.9, 0.9 (one right), 0.6 (right), 0.3 (wrong), 2 bins: (0, .5], (.5, 1]
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])
    r = reliability(probs, torch.tensor([0, 0, 0, 0]), bins=2)
    assert r.count.tolist() == [1, 3]
    assert r.confidence.tolist() == pytest.approx([0.4, 0.8])
    assert r.accuracy.tolist() == pytest.approx([0.0, 2 / 3])
    assert r.ece == pytest.approx(1 / 4 * 0.4 + 3 / 4 * abs(2 / 3 - 0.8))


def test_perfectly_calibrated_bins_give_zero_ece():
    probs = torch.tensor([[1.0, 0.0]] * 4 + [[0.5, 0.5]] * 2)
    assert reliability(probs, torch.tensor([0] * 4 + [0, 1]), bins=4).ece == pytest.approx(0)


@pytest.mark.parametrize("call,words", [
    (lambda: confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), 3), "y_true must lie"),
    (lambda: confusion_matrix(torch.tensor([0]), torch.tensor([0, 1]), 3), "same length"),
    (lambda: reliability(torch.ones(3), torch.zeros(3)), "probs must be (N, classes)"),
    (lambda: reliability(torch.ones(3, 2) / 2, torch.zeros(3), bins=0), "bins must be at least"),
])
def test_bad_input_is_refused(call, words):
    with pytest.raises(ValueError) as info:
        call()
    assert words in str(info.value)
