"""The fluctuation laws (product form, independent-layer sum) and their asymptotic forms
(ntk_eoc.math.fluctuations, SCIENCE §6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ntk_eoc import Activation, widths
from ntk_eoc.math.fluctuations import (
    beta,
    fluctuation_constants,
    fluctuation_weight,
    hanin_nica,
    v_diag,
    v_diag_quadratic_limit,
    v_dsum,
    v_dsum_constant_asymptotic,
)

RELU, ABS = Activation.named("relu"), Activation.named("abs")
# A product of <= 10^5 float64 factors through log1p/expm1: ~1e-12 relative.
FLOAT64_RTOL = 1e-12
EULER_GAMMA = 0.5772156649015329


def _hidden(schedule: str, m: int, depth: int) -> list[int]:
    return widths(schedule, m, depth, 1)[1:-1]


def test_science_examples():
    # SCIENCE §6: ReLU, widths 8 k^2, l = 9: 0.898; ReLU, constant 32, l = 9: 1.302 (three digits quoted)
    assert v_diag(RELU, _hidden("quadratic", 8, 9)) == pytest.approx(0.898, abs=5e-4)
    assert v_diag(RELU, _hidden("constant", 32, 9)) == pytest.approx(1.302, abs=5e-4)


def test_constants_and_weight():
    assert fluctuation_constants(RELU) == (5.0, 1.0) and fluctuation_constants(ABS) == (2.0, 0.0)
    c, c_prime = fluctuation_constants(RELU)
    np.testing.assert_allclose(fluctuation_weight([0.0, 0.5, 1.0], RELU), [c, c / 2 + c_prime / 2, c], rtol=1e-15)
    assert fluctuation_weight(0.2, RELU) == pytest.approx(5 * (0.64 + 0.04) + 2 * 0.16, rel=1e-15)


def test_small_depths_in_closed_form():
    assert v_diag(RELU, []) == 0.0  # l = 1: K is deterministic on the sphere
    assert v_diag(RELU, [10]) == pytest.approx(3.0 / 10, rel=FLOAT64_RTOL)  # l = 2: w(1/2) / m_1
    expected = (1 + fluctuation_weight(1 / 3, ABS) / 4) * (1 + fluctuation_weight(2 / 3, ABS) / 9) - 1
    assert v_diag(ABS, [4, 9]) == pytest.approx(float(expected), rel=FLOAT64_RTOL)
    assert beta([4, 9]) == pytest.approx(1 / 4 + 1 / 9, rel=FLOAT64_RTOL)


@pytest.mark.parametrize("act", [RELU, ABS], ids=["relu", "abs"])
def test_quadratic_schedule_saturates_below_its_limit(act):
    m = 64
    limit = v_diag_quadratic_limit(act, m)
    values = [v_diag(act, [k * k * m for k in range(1, depth)]) for depth in (3, 10, 100, 4000)]
    # w(t) <= C, so every finite-depth product is below prod_k (1 + C / (k^2 m)) = sinh(pi a) / (pi a)
    assert all(v < limit for v in values) and np.all(np.diff(values) > 0)
    # the gap is about 2 (C - C') ln(l) / (l m): 2.6e-4 absolute (0.2% relative) for relu at l = 4000
    assert values[-1] == pytest.approx(limit, rel=3e-3)
    c = fluctuation_constants(act)[0]
    assert limit == pytest.approx(c * math.pi**2 / (6 * m), rel=c * math.pi**2 / (10 * m))  # + O(1/m^2)
    assert beta([k * k * m for k in range(1, 4000)]) < math.pi**2 / (6 * m)


@pytest.mark.parametrize("act", [RELU, ABS], ids=["relu", "abs"])
def test_constant_schedule_first_order(act):
    c, c_prime = fluctuation_constants(act)
    m, depth = 10**8, 1000  # first order: m log(1 + V) = sum_k w(k/l) = l (2C + C')/3 - C + O(1/l) + O(l/m)
    value = v_diag(act, [m] * (depth - 1))
    assert m * math.log1p(value) == pytest.approx(depth * (2 * c + c_prime) / 3 - c, abs=1e-2)


def _dsum_by_definition(act: Activation, hidden: list[int]) -> float:
    """(1/l^2) sum_{k,k'} prod_j (1 + c_j(k,k')/m_j) - 1 term by term, c_j = C' iff min <= j < max."""
    c, c_prime = fluctuation_constants(act)
    depth = len(hidden) + 1
    total = 0.0
    for k in range(1, depth + 1):
        for k2 in range(1, depth + 1):
            prod = 1.0
            for j, m in enumerate(hidden, start=1):
                prod *= 1 + (c_prime if min(k, k2) <= j < max(k, k2) else c) / m
            total += prod
    return total / depth**2 - 1


@pytest.mark.parametrize("act", [RELU, ABS], ids=["relu", "abs"])
@pytest.mark.parametrize("hidden", [[7], [3, 5, 40], [8, 8, 8, 8, 8, 8, 8], [16, 4, 9, 1, 100]])
def test_dsum_is_its_definition(act, hidden):
    assert v_dsum(act, hidden) == pytest.approx(_dsum_by_definition(act, hidden), rel=FLOAT64_RTOL)


@pytest.mark.parametrize("act", [RELU, ABS], ids=["relu", "abs"])
def test_dsum_agrees_with_the_product_form_to_first_order(act):
    assert v_dsum(act, []) == 0.0
    assert v_dsum(act, [10]) == pytest.approx(v_diag(act, [10]), rel=FLOAT64_RTOL)  # l = 2: the identity w(1/2)/m
    for schedule in ("quadratic", "linear", "constant"):
        hidden = _hidden(schedule, 10**7, 40)
        # V_dsum - V_diag = O(beta^2): relative O(beta) = O(l / m) ~ 4e-6 here
        assert v_dsum(act, hidden) == pytest.approx(v_diag(act, hidden), rel=2e-5)
        assert v_dsum(act, hidden) > v_diag(act, hidden)


def test_dsum_and_hanin_nica_reproduce_the_measured_table():
    # SCIENCE §6, ReLU, constant widths: (l, m) -> (V_dsum, e^{5 beta} - 1), three digits quoted
    table = {(8, 64): (0.457, 0.728), (16, 64): (1.306, 2.228), (32, 128): (1.430, 2.357), (16, 32): (4.24, 9.42),
             (32, 64): (4.98, 10.27)}  # fmt: skip
    for (depth, m), (dsum, hn) in table.items():
        hidden = _hidden("constant", m, depth)
        assert v_dsum(RELU, hidden) == pytest.approx(dsum, abs=6e-3)
        assert hanin_nica(hidden) == pytest.approx(hn, abs=6e-3)


@pytest.mark.parametrize("act", [RELU, ABS], ids=["relu", "abs"])
def test_dsum_constant_growth_rate_is_c(act):
    c, c_prime = fluctuation_constants(act)
    depth = 2401  # two blocks of the pair matrix; the integral form is within O(1/l) + O(C^2 beta/m)
    for b in (0.05, 0.5, 1.0):
        m = round((depth - 1) / b)
        value = v_dsum(act, [m] * (depth - 1))
        assert value == pytest.approx(v_dsum_constant_asymptotic(act, m, depth), rel=1e-2)
    # log(1 + V)/beta from (2C + C')/3 at small beta towards C
    assert math.log1p(v_dsum_constant_asymptotic(act, 10**9, 1001)) / 1e-6 == pytest.approx((2 * c + c_prime) / 3,
                                                                                             rel=1e-5)  # fmt: skip
    rate = [math.log1p(v_dsum_constant_asymptotic(act, 1, 1 + b)) / b for b in (10, 30, 100)]
    assert np.all(np.diff(rate) > 0) and rate[-1] == pytest.approx(c, rel=3e-2)


@pytest.mark.parametrize("act", [RELU, ABS], ids=["relu", "abs"])
def test_linear_schedule_grows_like_log_depth(act):
    c, c_prime = fluctuation_constants(act)
    m, depth = 10**8, 10**5
    value = v_diag(act, [m * k for k in range(1, depth)])
    # m V / C - ln l -> gamma + int_0^1 (w(t)/C - 1) dt / t = gamma - 1 + C'/C (error O(1/l) + O(ln(l)^2/m))
    assert m * value / c - math.log(depth) == pytest.approx(EULER_GAMMA - 1 + c_prime / c, abs=1e-4)


def test_bad_widths_name_the_key():
    with pytest.raises(ValueError, match=r"hidden_widths\[1\]=0"):
        v_diag(RELU, [4, 0])
    with pytest.raises(ValueError, match="base_width=-1"):
        v_diag_quadratic_limit(RELU, -1)
    with pytest.raises(ValueError, match="depth=0"):
        v_dsum_constant_asymptotic(RELU, 8, 0)
    with pytest.raises(ValueError, match=r"hidden_widths\[0\]=-2"):
        v_dsum(RELU, [-2])
