"""Paired bootstrap over shared draw ids (ntk_eoc.analysis.bootstrap): exact cases where pairing matters."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.analysis import bootstrap
from ntk_eoc.analysis.bootstrap import (
    RANDOM_NUMBERS,
    aligned_draws,
    paired_difference,
    paired_loglog_slope,
    paired_ratio,
    resample_counts,
    resampled_statistic,
)

# Sums of <= 64 float64 terms, resampled: a few ulps.
FLOAT64_RTOL = 1e-12


def _draws(values, ids=None, **coords) -> xr.DataArray:
    values = np.asarray(values, dtype=float)
    ids = np.arange(values.shape[-1]) if ids is None else ids
    return xr.DataArray(values, dims=(*coords, "draw"), coords={**coords, "draw": ids})


def test_resample_counts_rows_are_multisets_of_all_draws_and_reproducible():
    counts = resample_counts(7, 50, seed=1)
    assert counts.shape == (50, 7) and (counts.sum(axis=1) == 7).all() and (counts >= 0).all()
    np.testing.assert_array_equal(counts, resample_counts(7, 50, seed=1))
    assert not np.array_equal(counts, resample_counts(7, 50, seed=2))


def test_resampled_mean_and_median_equal_explicit_resamples():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((3, 9))
    counts = resample_counts(9, 20, seed=3)
    means, medians = resampled_statistic(values, counts), resampled_statistic(values, counts, "median")
    assert means.shape == medians.shape == (20, 3)
    for b in range(20):
        picked = np.repeat(values, counts[b], axis=1)
        np.testing.assert_allclose(means[b], picked.mean(axis=1), rtol=FLOAT64_RTOL)
        np.testing.assert_allclose(medians[b], np.median(picked, axis=1), rtol=FLOAT64_RTOL)
    with pytest.raises(ValueError, match="statistic='tail'"):
        resampled_statistic(values, counts, "tail")


def test_perfectly_correlated_configurations_give_a_point_interval():
    # y = 2 x draw by draw: every paired resample has ratio 1/2 and difference -mean(x); an independent
    # resampling would give an interval as wide as the spread of the draws.
    x = _draws(np.random.default_rng(4).gamma(4.0, size=64))
    ratio = paired_ratio(x, 2.0 * x, n_boot=200, seed=5)
    assert (
        ratio.value == pytest.approx(0.5) and ratio.ci_low == pytest.approx(0.5) and ratio.ci_high == pytest.approx(0.5)
    )
    diff = paired_difference(x + 1.0, x, n_boot=200, seed=6)
    assert (diff.value, diff.ci_low, diff.ci_high) == pytest.approx((1.0, 1.0, 1.0), rel=FLOAT64_RTOL)
    assert "paired" in ratio.method and "paired" in diff.method


def test_common_factor_across_widths_gives_an_exact_slope():
    # y_{m,s} = m^-1/2 g_s: the draw-level factor g_s cancels in every paired resample
    widths = np.array([16, 64, 256])
    g = np.random.default_rng(7).gamma(4.0, size=32)
    fit = paired_loglog_slope(_draws(widths[:, None] ** -0.5 * g, base_width=widths), "base_width", n_boot=100, seed=8)
    assert (fit.slope, fit.ci_low, fit.ci_high) == pytest.approx((-0.5, -0.5, -0.5), rel=1e-10)


def test_draw_ids_are_aligned_by_value():
    x = _draws([1.0, 2.0, 3.0, 4.0], ids=[0, 1, 2, 3])
    y = _draws([8.0, 6.0, 4.0, 2.0], ids=[3, 2, 1, 0])  # y = 2 x after alignment
    ratio = paired_ratio(x, y, n_boot=50, seed=0)
    assert (ratio.ci_low, ratio.ci_high) == pytest.approx((0.5, 0.5))


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (_draws([1.0, 2.0, 3.0], ids=[0, 1, 5]), "draw ids differ"),
        (_draws([1.0, 2.0, 3.0], ids=[0, 1, 1]), "repeats draw ids"),
        (xr.DataArray([1.0, 2.0, 3.0], dims="draw"), "draw ids as coordinate"),
        (_draws([1.0, np.nan, 3.0]), "non-finite"),
    ],
)
def test_unpaired_or_bad_draws_are_refused(y, message):
    with pytest.raises(ValueError, match=message):
        paired_ratio(_draws([1.0, 2.0, 3.0]), y, n_boot=10, seed=0)


def test_bad_settings_name_the_key():
    x = _draws([1.0, 2.0])
    with pytest.raises(ValueError, match="n_boot=1"):
        paired_difference(x, x, n_boot=1, seed=0)
    with pytest.raises(ValueError, match=r"confidence=1\.5"):
        paired_ratio(x, x, n_boot=10, seed=0, confidence=1.5)
    with pytest.raises(ValueError, match="mean"):
        paired_ratio(x, 0.0 * x, n_boot=10, seed=0)
    with pytest.raises(ValueError, match="needs dims"):
        paired_loglog_slope(x, "base_width", n_boot=10, seed=0)


def test_aligned_draws_returns_sorted_copies_and_the_design_is_named():
    a, b = aligned_draws(_draws([1.0, 2.0], ids=[1, 0]), _draws([3.0, 4.0], ids=[0, 1]))
    np.testing.assert_array_equal(a.values, [2.0, 1.0])
    np.testing.assert_array_equal(b.draw.values, [0, 1])
    assert "fold_in(key(seed), s)" in RANDOM_NUMBERS and "jointly" in RANDOM_NUMBERS
    assert bootstrap.CI_METHOD == "percentile bootstrap"


def _cv2(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Var / mean^2 (ddof = 1): the variance-ratio statistic of the fluctuation rows."""
    return np.var(a, axis=axis, ddof=1) / np.mean(a, axis=axis) ** 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bca_matches_scipy_on_its_own_resamples(seed):
    """scipy.stats.bootstrap(method="BCa") is an independent implementation of the same interval: given its
    bootstrap distribution and our leave-one-out values, bca_ci gives its endpoints."""
    from scipy import stats

    x = np.random.default_rng(seed).lognormal(size=60)  # skewed: z0 and a are far from 0
    res = stats.bootstrap((x,), _cv2, method="BCa", n_resamples=4000, rng=np.random.default_rng(seed + 10),
                          vectorized=True)  # fmt: skip
    jack = np.array([_cv2(np.delete(x, s)) for s in range(x.size)])
    low, high = bootstrap.bca_ci(res.bootstrap_distribution, _cv2(x), jack, 0.95)
    expected = (res.confidence_interval.low, res.confidence_interval.high)
    assert (float(low), float(high)) == pytest.approx(expected, rel=1e-12)
    pct = bootstrap.percentile_ci(res.bootstrap_distribution, 0.95)
    assert abs(float(low) - float(pct[0])) > 0.01  # the correction is not a no-op on skewed data


def test_bca_without_bias_or_skew_is_the_percentile_interval_and_works_per_cell():
    boot = np.linspace(-1.0, 1.0, 2001)[:, None] * np.array([1.0, 2.0])  # (B, 2 cells), median 0
    low, high = bootstrap.bca_ci(boot, np.zeros(2), np.ones((30, 2)), 0.9)
    expected = bootstrap.percentile_ci(boot, 0.9)
    np.testing.assert_allclose(low, expected[0], rtol=1e-12)
    np.testing.assert_allclose(high, expected[1], rtol=1e-12)
