"""Every verdict rule reaches each of its outcomes, states its margin, and refuses NaN (analysis.claims.verdicts)."""

from __future__ import annotations

import math

import pytest

from ntk_eoc.analysis.claims.verdicts import COLUMNS, AtLeast, AtMost, Converges, Equivalence, Kind, Verdict, claim_row

H, F, U = Verdict.HOLDS, Verdict.FAILS, Verdict.INCONCLUSIVE  # U: undecided


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [(-0.55, -0.45, H), (-0.39, -0.2, F), (-0.9, -0.61, F), (-0.65, -0.45, U), (-0.7, -0.3, U)],
)
def test_equivalence_absolute(low, high, verdict):
    assert Equivalence(0.1).decide(-0.5, low, high) == verdict


@pytest.mark.parametrize(("low", "high", "verdict"), [(1.9, 2.1, H), (2.3, 2.5, F), (1.0, 1.7, F), (1.7, 2.1, U)])
def test_equivalence_relative(low, high, verdict):
    rule = Equivalence(0.1, relative=True)
    assert rule.half_width(2.0) == pytest.approx(0.2)
    assert rule.decide(2.0, low, high) == verdict


@pytest.mark.parametrize(("low", "high", "verdict"), [(0.1, 0.3, H), (0.4, 0.6, F), (0.3, 0.4, U)])
def test_at_most(low, high, verdict):
    assert AtMost(0.05).decide(0.3, low, high) == verdict  # threshold 0.35


@pytest.mark.parametrize(("low", "high", "verdict"), [(0.3, 0.9, H), (-0.1, 0.2, F), (0.2, 0.4, U)])
def test_at_least(low, high, verdict):
    assert AtLeast(0.25).decide(0.0, low, high) == verdict


# depths 1000 -> 2000: an O(ln l / l) error shrinks by g(2000) / g(1000) = 0.55, the fail threshold is sqrt 0.55 = 0.74
@pytest.mark.parametrize(
    ("estimates", "verdict"),
    [
        ([0.5, 0.38], H),  # deepest within 5% of 0.375
        ([0.5, 0.45], U),  # off by 20%, gap ratio 0.6 < 0.74: approaching at the expected rate
        ([0.5, 0.48], F),  # gap ratio 0.84: approaching another value
        ([0.45, 0.5], F),  # moving away
        ([0.25, 0.5], F),  # crossing over to the other side and further off
    ],
)
def test_converges_relative(estimates, verdict):
    assert Converges(0.05, relative=True).decide(0.375, estimates, [1000, 2000]) == verdict


def test_converges_with_one_estimate_and_absolute_margin():
    rel = Converges(0.05, relative=True)
    assert rel.decide(0.375, [0.376], [500]) == H and rel.decide(0.375, [0.5], [500]) == U
    rule = Converges(0.05)
    assert rule.decide(0.0, [0.2, 0.04], [100, 1000]) == H
    # 100 -> 1000: fail threshold sqrt(g(1000) / g(100)) = 0.39
    assert rule.decide(0.0, [0.2, 0.07], [100, 1000]) == U  # ratio 0.35
    assert rule.decide(0.0, [0.2, 0.1], [100, 1000]) == F  # ratio 0.5
    assert rule.decide(0.0, [0.1, 0.2], [100, 1000]) == F


def test_converges_refusals():
    rule = Converges(0.05)
    with pytest.raises(ValueError, match="non-finite"):
        rule.decide(0.0, [0.1, math.nan], [100, 200])
    with pytest.raises(ValueError, match="predicted=0 with a relative margin"):
        Converges(0.05, relative=True).decide(0.0, [0.1], [100])
    with pytest.raises(ValueError, match="one increasing depth >= 3 per estimate"):
        rule.decide(0.0, [0.1, 0.2], [200, 100])
    with pytest.raises(ValueError, match="one increasing depth >= 3 per estimate"):
        rule.decide(0.0, [0.1, 0.2], [2, 100])


def test_rules_refuse_nan_inverted_intervals_and_negative_margins():
    with pytest.raises(ValueError, match="ci_low=nan"):
        Equivalence(0.1).decide(0.0, math.nan, 1.0)
    with pytest.raises(ValueError, match=r"ci_low=0\.5 > ci_high=0\.1"):
        AtMost(0.0).decide(1.0, 0.5, 0.1)
    with pytest.raises(ValueError, match=r"margin=-0\.1"):
        AtLeast(-0.1)
    with pytest.raises(ValueError, match="predicted=inf"):
        Equivalence(0.1).decide(math.inf, 0.0, 1.0)


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        (Equivalence(0.1), "predicted +- 0.1"),
        (Equivalence(0.2, relative=True), "predicted x (1 +- 0.2)"),
        (AtMost(0.05), "ci_high < predicted + 0.05"),
        (AtLeast(0.25), "ci_low > predicted + 0.25"),
        (Converges(0.05, relative=True), "holds if gap(l) <= 0.05"),
    ],
)
def test_rule_text_states_the_margin_and_every_outcome(rule, needle):
    assert needle in rule.text
    assert all(word in rule.text for word in ("holds", "fails", "inconclusive"))


def test_claim_row_follows_the_columns():
    row = claim_row("c", Kind.BOUND, 0.27, 0.1, (0.0, 0.2), AtMost(0.05), Verdict.HOLDS)
    assert tuple(row) == COLUMNS
    assert (row["kind"], row["margin"], row["verdict"]) == ("bound", 0.05, "holds")
    theorem = claim_row("t", Kind.THEOREM, 0.0, math.nan, (math.nan, math.nan), "rank bound", Verdict.BY_THEOREM)
    assert theorem["rule"] == "rank bound" and math.isnan(theorem["margin"]) and theorem["verdict"] == "by theorem"
