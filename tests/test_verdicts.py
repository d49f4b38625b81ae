"""cnnedu.verdicts against hand-computed cases (means, standard deviations and t-test p values
by hand, the latter from closed forms of Student's t)."""

import math

import pytest

from cnnedu.verdicts import verdict


def test_three_agreeing_seeds_are_not_called_a_win(capsys):
    # differences 0.02, 0.02, 0.01: mean 0.05/3; deviations 1/300, 1/300, -2/300:
    # sd = sqrt((1 + 1 + 4) / 300**2 / 2) = sqrt(3) / 300; t = (0.05/3) / (sd / sqrt(3)) = 5,
    # df 2: two-sided p = 1 - t / sqrt(2 + t**2) = 1 - 5 / sqrt(27) = 0.0377 (below 0.05, but
    # three seeds are under the course's minimum of five)
    v = verdict([0.80, 0.82, 0.81], [0.78, 0.80, 0.80], "with BN", "without BN")
    assert v.effect == pytest.approx(0.05 / 3)
    assert v.sd == pytest.approx(math.sqrt(3) / 300)
    assert (v.low, v.high) == (pytest.approx(0.01), pytest.approx(0.02))
    assert v.p_value == pytest.approx(1 - 5 / math.sqrt(27), rel=1e-9)
    assert (v.agree, v.seeds, v.clear) == (3, 3, False)
    out = capsys.readouterr().out
    assert out.startswith("Not separated in this budget, on Fashion-MNIST")
    assert "+0.017 ± 0.006 (mean ± sd), min +0.010, max +0.020" in out
    assert "with BN ahead in 3 of 3 seeds" in out and "p = 0.038" in out
    assert "two-sided" in out and "only from 5 or more seeds" in out


def df4_two_sided_p(t: float) -> float:
    """Student's t with 4 degrees of freedom in closed form: F(t) - 1/2 =
    (3/8) u (1 - t^2 / (12 (1 + t^2/4))), u = t / sqrt(1 + t^2/4)."""
    u = t / math.sqrt(1 + t * t / 4)
    return 1 - 2 * (3 / 8) * u * (1 - t * t / (12 * (1 + t * t / 4)))


def test_five_agreeing_seeds_name_the_winner(capsys):
    a, b = [0.9, 0.91, 0.92, 0.9, 0.93], [0.8, 0.8, 0.85, 0.86, 0.8]
    v = verdict(a, b, "residual", "plain")
    diffs = [x - y for x, y in zip(a, b, strict=True)]   # 0.10, 0.11, 0.07, 0.04, 0.13
    mean = sum(diffs) / 5
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 4)
    assert v.p_value == pytest.approx(df4_two_sided_p(mean / (sd / math.sqrt(5))), rel=1e-9)
    assert (v.agree, v.seeds, v.clear) == (5, 5, True)
    assert capsys.readouterr().out.startswith(
        "residual beat plain in this budget, on Fashion-MNIST: test accuracy")
    assert v.headline == "residual beat plain in this budget, on Fashion-MNIST"


def test_five_seeds_that_disagree_too_much_are_not_separated(capsys):
    # differences +0.05, +0.04, -0.03, +0.06, -0.02: 3 of 5 agree, t small
    v = verdict([0.85, 0.84, 0.77, 0.86, 0.78], [0.8] * 5, "A", "B")
    assert not v.clear and v.p_value > 0.05
    assert "More seeds could tell" in capsys.readouterr().out


def test_lower_is_better_and_a_tie_does_not_agree(capsys):
    # losses: b lower in seeds 0, 1, 3; equal in seed 2 -> a - b = 0.2, 0.1, 0, 0.3
    v = verdict([1.2, 1.1, 1.0, 1.3], [1.0, 1.0, 1.0, 1.0], "plain-32", "plain-20",
                metric="final train loss", higher_is_better=False)
    assert v.effect == pytest.approx(0.15)
    assert (v.agree, v.seeds) == (3, 3)
    assert "plain-20 ahead in 3 of 4 seeds" in capsys.readouterr().out


def test_mixed_seeds(capsys):
    v = verdict([0.5, 0.7, 0.6], [0.6, 0.5, 0.4], "A", "B")   # diffs -0.1, +0.2, +0.2
    assert v.effect == pytest.approx(0.1)
    assert (v.agree, v.seeds, v.clear) == (2, 3, False)
    assert "A ahead in 2 of 3 seeds" in capsys.readouterr().out


def test_quick_mode_says_too_short_and_quotes_the_full_run(capsys):
    v = verdict([0.3], [0.27], "AdamW", "SGD", quick=True,
                full_run_found="AdamW beat SGD by 0.222 (one seed).")
    out = capsys.readouterr().out
    assert out.startswith("Quick mode: too short to judge AdamW against SGD")
    assert "The full run found: AdamW beat SGD by 0.222 (one seed)." in out
    assert "(one seed, no spread)" in out and math.isnan(v.sd)


@pytest.mark.parametrize("a, b, kwargs, message", [
    ([], [], {}, "a must hold one result per seed, got none"),
    ([0.1, 0.2], [0.1], {}, "paired by seed; got 2 and 1"),
    ([float("nan")], [0.1], {}, "a must be finite numbers .*diverged=.* got nan"),
    ([0.1], [0.2], {"quick": True}, "full_run_found must say what the full run found"),
])
def test_bad_input_is_named(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        verdict(a, b, "A", "B", **kwargs)


def test_a_diverged_run_counts_as_the_stated_value(capsys):
    # losses; seed 1 of "no BN" diverged -> counted as 2.303: diffs -0.5, -1.503, -0.4
    v = verdict([0.7, 0.8, 0.6], [1.2, float("nan"), 1.0], "BN", "no BN",
                metric="final train loss", higher_is_better=False, diverged=2.303)
    assert v.effect == pytest.approx(-(0.5 + 1.503 + 0.4) / 3)
    diffs = [-0.5, -1.503, -0.4]
    mean = sum(diffs) / 3
    t = mean / (math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2) / math.sqrt(3))
    assert (v.agree, v.seeds) == (3, 3)
    assert v.p_value == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t))     # df 2 closed form
    assert "(1 diverged run(s) counted as 2.303)" in capsys.readouterr().out
