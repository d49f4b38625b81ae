"""Student's t against closed forms (1, 2 and 4 degrees of freedom) and printed table values."""

import math

import pytest

from cnnedu.ttest import paired_t_p, regularized_beta, t_two_sided_p


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.5, 12.7062, 40.0])
def test_one_degree_of_freedom_is_the_cauchy(t):
    assert t_two_sided_p(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(abs(t)), abs=1e-12)


@pytest.mark.parametrize("t", [0.0, 0.5, 1.5, 4.303, 9.0, -3.0])
def test_two_degrees_of_freedom_closed_form(t):
    assert t_two_sided_p(t, 2) == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t), abs=1e-12)


@pytest.mark.parametrize("t, df, p", [
    (2.776445, 4, 0.05), (4.604095, 4, 0.01), (2.570582, 5, 0.05), (2.228139, 10, 0.05),
    (1.959964, 10**6, 0.05),                    # the normal limit
])
def test_table_values(t, df, p):
    assert t_two_sided_p(t, df) == pytest.approx(p, abs=2e-6)


def test_regularized_beta_edges_and_symmetry():
    assert regularized_beta(2.0, 3.0, 0.0) == 0.0 and regularized_beta(2.0, 3.0, 1.0) == 1.0
    # I_x(a, b) = 1 - I_{1-x}(b, a); I_x(1, 1) = x; I_x(2, 1) = x^2
    assert regularized_beta(2.5, 0.5, 0.3) == pytest.approx(1 - regularized_beta(0.5, 2.5, 0.7))
    assert regularized_beta(1.0, 1.0, 0.37) == pytest.approx(0.37)
    assert regularized_beta(2.0, 1.0, 0.6) == pytest.approx(0.36)
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\]"):
        regularized_beta(1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match="df must be at least 1"):
        t_two_sided_p(1.0, 0)


def test_paired_t_edges():
    assert paired_t_p([0.3]) == 1.0                       # one seed: nothing to test
    assert paired_t_p([0.1, 0.1, 0.1]) == 0.0             # no spread, non-zero mean
    assert paired_t_p([0.0, 0.0]) == 1.0
    # diffs 1, 2, 3: mean 2, sd 1, t = 2 * sqrt(3), df 2
    t = 2 * math.sqrt(3)
    assert paired_t_p([1.0, 2.0, 3.0]) == pytest.approx(1 - t / math.sqrt(2 + t * t))
