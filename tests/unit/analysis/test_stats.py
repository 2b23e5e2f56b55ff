"""Concentration statistics on synthetic inputs with known answers (ntk_eoc.stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import xarray as xr

from ntk_eoc import Activation
from ntk_eoc.analysis import stats
from ntk_eoc.analysis.spectrum import singular_draws
from ntk_eoc.analysis.tables import kernel_spectra, singular_counts

# Eigen-solvers and sums of N^2 float64 terms agree to a few hundred ulps for N <= 32.
FLOAT64_RTOL = 1e-12
NOMINAL = 0.95
# Coverage over R seeded experiments: the count of covering intervals is Binomial(R, p). With R = 400 and
# p = 0.95, sd = 0.011; the band +-0.04 is 3.7 sd (two-sided false-failure rate 2e-4 if coverage were
# exactly nominal) and leaves ~1 point for the O(1/N) undercoverage of percentile intervals.
COVERAGE_REPS = 400
COVERAGE_TOL = 0.04


def _symmetric(rng, shape):
    a = rng.standard_normal(shape)
    return a + np.swapaxes(a, -1, -2)


def _kernels(values, **coords):
    dims = ("draw", "base_width", "i", "j")[-values.ndim :]
    return xr.DataArray(values, dims=dims, coords=coords)


def test_norms_match_numpy_linalg_norm():
    rng = np.random.default_rng(0)
    samples, limit = _symmetric(rng, (4, 3, 6, 6)), _symmetric(rng, (6, 6))
    dev = stats.deviations(_kernels(samples, base_width=[1, 4, 16]), xr.DataArray(limit, dims=("i", "j")))
    diff = samples - limit
    np.testing.assert_allclose(dev.op_abs, np.linalg.norm(diff, ord=2, axis=(-2, -1)), rtol=FLOAT64_RTOL)
    np.testing.assert_allclose(dev.fro_abs, np.linalg.norm(diff, ord="fro", axis=(-2, -1)), rtol=FLOAT64_RTOL)
    np.testing.assert_allclose(dev.max_abs, np.abs(diff).max(axis=(-2, -1)), rtol=FLOAT64_RTOL)
    np.testing.assert_allclose(dev.op_rel, dev.op_abs / np.linalg.norm(limit, ord=2), rtol=FLOAT64_RTOL)
    np.testing.assert_allclose(dev.fro_rel, dev.fro_abs / np.linalg.norm(limit), rtol=FLOAT64_RTOL)
    np.testing.assert_allclose(dev.max_rel, dev.max_abs / np.abs(limit).max(), rtol=FLOAT64_RTOL)
    assert dev.sizes == {"draw": 4, "base_width": 3}


def test_deviation_of_diagonal_perturbation_is_its_largest_entry():
    limit = np.diag([3.0, 2.0, 1.0])
    sample = limit + np.diag([0.5, -2.0, 0.25])
    dev = stats.deviations(_kernels(sample[None]), xr.DataArray(limit, dims=("i", "j")))
    assert float(dev.op_abs[0]) == 2.0
    assert float(dev.max_abs[0]) == 2.0
    assert float(dev.op_rel[0]) == pytest.approx(2.0 / 3.0, rel=FLOAT64_RTOL)
    assert float(dev.fro_abs[0]) == pytest.approx(math.sqrt(0.25 + 4.0 + 0.0625), rel=FLOAT64_RTOL)


def test_deviations_are_float64_for_float32_kernels():
    rng = np.random.default_rng(1)
    samples = _symmetric(rng, (2, 4, 4)).astype(np.float32)
    dev = stats.deviations(_kernels(samples), xr.DataArray(np.eye(4, dtype=np.float32), dims=("i", "j")))
    assert all(dev[v].dtype == np.float64 for v in dev.data_vars)


@pytest.mark.parametrize("where", ["samples", "limit"])
def test_nan_in_deviation_input_raises(where):
    samples, limit = np.ones((2, 3, 3)), np.eye(3)
    (samples if where == "samples" else limit)[1, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        stats.deviations(_kernels(samples), xr.DataArray(limit, dims=("i", "j")))


def test_asymmetric_kernel_raises():
    samples = np.eye(3)[None].copy()
    samples[0, 0, 1] = 1.0
    with pytest.raises(ValueError, match="not symmetric"):
        stats.deviations(_kernels(samples), xr.DataArray(np.eye(3), dims=("i", "j")))


def test_mismatched_matrix_size_raises():
    with pytest.raises(ValueError, match="sizes differ"):
        stats.deviations(_kernels(np.ones((2, 3, 3))), xr.DataArray(np.eye(4), dims=("i", "j")))


def test_summarize_gives_the_same_numbers_with_threads():
    rng = np.random.default_rng(5)
    dev = xr.Dataset(
        {"op_abs": (("draw", "base_width", "depth"), rng.gamma(2.0, size=(40, 3, 4)))},
        coords={"base_width": [4, 16, 64], "depth": [2, 3, 4, 5]},
    )
    one, two = (stats.summarize(dev, n_boot=100, seed=3, workers=w) for w in (1, 2))
    xr.testing.assert_identical(one, two)


def test_summarize_exact_mean_median_and_tail_quantile():
    n_draws, widths = 101, [4, 16, 64]
    values = np.stack([np.random.default_rng(w).permutation(np.arange(1.0, n_draws + 1)) for w in widths], axis=1)
    dev = xr.Dataset({"op_abs": (("draw", "base_width"), values)}, coords={"base_width": widths})
    out = stats.summarize(dev, n_boot=200, seed=0)
    est = out.op_abs.sel(bound="value")
    np.testing.assert_allclose(est.sel(statistic="mean"), 51.0, rtol=FLOAT64_RTOL)
    np.testing.assert_allclose(est.sel(statistic="median"), 51.0, rtol=FLOAT64_RTOL)
    # linear interpolation: q_p of 1..N is 1 + p (N - 1)
    tail = 1.0 + (1.0 - 1.0 / np.array(widths)) * (n_draws - 1)
    np.testing.assert_allclose(est.sel(statistic="tail"), tail, rtol=FLOAT64_RTOL)
    np.testing.assert_allclose(out.op_abs_quantile.sel(quantile=0.25), 26.0, rtol=FLOAT64_RTOL)
    assert (out.op_abs.sel(bound="ci_low") <= est).all() and (est <= out.op_abs.sel(bound="ci_high")).all()
    np.testing.assert_array_equal(out.tail_resolved, [True, True, True])
    assert out.attrs["ci_method"] == "percentile bootstrap"


def test_summarize_is_reproducible_for_a_seed():
    rng = np.random.default_rng(2)
    dev = xr.Dataset({"x": (("draw", "base_width"), rng.random((30, 2)))}, coords={"base_width": [8, 32]})
    a, b, c = (stats.summarize(dev, n_boot=100, seed=s) for s in (5, 5, 6))
    xr.testing.assert_identical(a, b)
    assert not a.x.equals(c.x)


def test_summarize_nan_raises():
    dev = xr.Dataset({"x": (("draw", "base_width"), [[1.0], [np.nan]])}, coords={"base_width": [8]})
    with pytest.raises(ValueError, match="non-finite"):
        stats.summarize(dev, n_boot=10, seed=0)


def test_summarize_leaves_excluded_draws_out_of_their_cell_only():
    """The excluded draws (inf here) are never read; each cell is summarised over its other draws, exactly
    as if they were absent; a cell left with fewer than 2 draws is NaN and says so in n_used."""
    rng = np.random.default_rng(4)
    x = rng.random((40, 3))
    x[[3, 7, 11], 0], x[5, 1], x[1:, 2] = np.inf, np.inf, np.inf
    dev = xr.Dataset({"cond": (("draw", "base_width"), x)}, coords={"base_width": [8, 16, 32]})
    out = stats.summarize(dev, n_boot=200, seed=0, exclude=~np.isfinite(dev.cond))
    np.testing.assert_array_equal(out.n_used, [37, 39, 1])
    for k, m in enumerate([8, 16]):
        kept = x[np.isfinite(x[:, k]), k]
        alone = xr.Dataset({"cond": (("draw", "base_width"), kept[:, None])}, coords={"base_width": [m]})
        ref = stats.summarize(alone, n_boot=200, seed=0)
        np.testing.assert_allclose(out.cond.sel(base_width=m, bound="value"), ref.cond.sel(base_width=m, bound="value"))
    assert np.isnan(out.cond.sel(base_width=32)).all()
    with pytest.raises(ValueError, match="non-finite"):
        stats.summarize(dev, n_boot=10, seed=0)  # without the mask the same data are refused


def test_singular_draws_are_classified_by_rank_not_by_the_sign_of_rounding():
    """A dead input makes lambda_min = 0 exactly; the solver returns +-1e-17..1e-15 (SCIENCE §8.7): both signs are
    singular, while a small but resolved lambda_min is not."""
    lam_max = np.full(5, 10.0)
    lam_min = np.array([1e-16, -1e-16, 0.0, 1e-3, 3e-4])
    eps, size = float(np.finfo(np.float32).eps), 32  # threshold 10 eps N lambda_max = 3.8e-4
    np.testing.assert_array_equal(singular_draws(lam_min, lam_max, size, eps), [True, True, True, False, True])
    conc = xr.Dataset({"lambda_min": ("draw", lam_min), "lambda_max": ("draw", lam_max)}, coords={"draw": range(5)})
    spectra, mask = kernel_spectra(conc, size, eps)
    assert mask.values.tolist() == [True, True, True, False, True]
    assert spectra.cond.values[3] == pytest.approx(1e4) and (spectra.cond.values[mask.values] == 0).all()
    # the cause: a dead input (K_ii = 0) is singular whatever lambda_min reads; the rest are singular by rank
    dead = conc.assign(dead_inputs=("draw", [1, 0, 2, 1, 0]))
    spectra, mask = kernel_spectra(dead, size, eps)
    assert mask.values.tolist() == [True, True, True, True, True]
    counts = singular_counts(dead, mask).set_index("variable").value.to_dict()
    assert counts == {"singular_draws": 5, "dead_input_draws": 3, "rank_draws": 2}


def _coverage(out, var, statistic, truth):
    ci = out[var].sel(statistic=statistic)
    return float(((ci.sel(bound="ci_low") <= truth) & (truth <= ci.sel(bound="ci_high"))).mean())


def test_bootstrap_ci_coverage_of_mean_and_median():
    shape, n_draws = 4.0, 64  # Gamma(4): positive and right-skewed, like a deviation
    rng = np.random.default_rng(3)
    values = rng.gamma(shape, size=(n_draws, COVERAGE_REPS))
    dev = xr.Dataset({"x": (("draw", "rep"), values)}, coords={"base_width": 64})
    out = stats.summarize(dev, n_boot=500, seed=4)
    assert abs(_coverage(out, "x", "mean", shape) - NOMINAL) <= COVERAGE_TOL
    assert abs(_coverage(out, "x", "median", scipy.stats.gamma(shape).median()) - NOMINAL) <= COVERAGE_TOL


def _planted(rng, widths, n_draws, slope, noise=0.3, scale=2.0):
    """y = scale m^slope exp(noise z): log E[y] = const + slope log m exactly."""
    m = np.asarray(widths, dtype=float)[:, None]
    return scale * m**slope * np.exp(noise * rng.standard_normal((len(widths), n_draws)))


def test_fit_loglog_slope_recovers_planted_slope():
    widths = [64, 256, 1024, 4096]
    fit = stats.fit_loglog_slope(widths, _planted(np.random.default_rng(5), widths, 256, -0.5), n_boot=1000, seed=6)
    assert fit.ci_low <= -0.5 <= fit.ci_high
    # log of a mean over 256 draws of exp(0.3 z) has sd ~ 0.02: the slope is known to ~0.01
    assert fit.ci_high - fit.ci_low < 0.05
    assert fit.intercept == pytest.approx(math.log(2.0) + 0.3**2 / 2, abs=0.05)
    assert "draw ids resampled jointly at every x (paired)" in fit.method


def test_fit_slopes_per_cell_and_reproducible():
    widths, planted = [32, 128, 512], [-0.5, -0.25]
    rng = np.random.default_rng(9)
    values = np.stack([_planted(rng, widths, 128, s) for s in planted])  # (activation, base_width, draw)
    dev = xr.Dataset(
        {"op_abs": (("activation", "base_width", "draw"), values)},
        coords={"activation": ["relu", "abs"], "base_width": widths},
    )
    fits = stats.fit_slopes(dev, n_boot=500, seed=10)
    assert fits.slope.dims == ("activation",)
    for act, s in zip(["relu", "abs"], planted, strict=True):
        assert float(fits.ci_low.sel(activation=act)) <= s <= float(fits.ci_high.sel(activation=act))
    xr.testing.assert_identical(fits, stats.fit_slopes(dev, n_boot=500, seed=10))


def test_fit_loglog_slope_rejects_bad_input():
    with pytest.raises(ValueError, match="distinct"):
        stats.fit_loglog_slope([8, 8], [[1.0], [2.0]], n_boot=10, seed=0)
    with pytest.raises(ValueError, match="> 0"):
        stats.fit_loglog_slope([8, 16], [[1.0], [0.0]], n_boot=10, seed=0)
    with pytest.raises(ValueError, match="shape"):
        stats.fit_loglog_slope([8, 16, 32], np.ones((2, 4)), n_boot=10, seed=0)


def test_fit_slopes_keeps_widths_from_min_width():
    widths = [8, 32, 128, 512]
    rng = np.random.default_rng(12)
    values = _planted(rng, widths, 64, -0.5)
    values[0] *= 3.0  # a strong small-width bias at m = 8 only
    dev = xr.Dataset({"op_abs": (("base_width", "draw"), values)}, coords={"base_width": widths})
    biased, cut = stats.fit_slopes(dev, n_boot=300, seed=13), stats.fit_slopes(dev, n_boot=300, seed=13, min_width=32)
    assert float(biased.ci_high) < -0.5  # the m = 8 point drags the fit down
    assert float(cut.ci_low) <= -0.5 <= float(cut.ci_high)
    assert cut.attrs["widths"] == [32, 128, 512] and cut.attrs["min_width"] == 32
    with pytest.raises(ValueError, match="min_width=600"):
        stats.fit_slopes(dev, n_boot=300, seed=13, min_width=600)


def test_bound_log_slope_is_the_factor_exponent_between_measured_points():
    relu, absolute = Activation.named("relu"), Activation.named("abs")
    # issue 10: l = 4, m_l from 1 to 2
    assert stats.bound_log_slope(relu, [4], [1, 2]) == pytest.approx(math.log(9.656854 / 8) / math.log(2), rel=1e-6)
    assert stats.bound_log_slope(relu, [4], [1, 2]) == pytest.approx(0.2716, abs=1e-4)
    assert stats.bound_log_slope(absolute, [4], [1, 2]) == pytest.approx(0.4129, abs=1e-4)
    # in depth the factor Delta^-2 + l tends to exponent 1: (1 + l) for abs over l = 2, 4, 8
    ls = np.log([2.0, 4.0, 8.0])
    expected = np.polyfit(ls, np.log(1.0 + np.exp(ls)), 1)[0]
    assert stats.bound_log_slope(absolute, [2, 4, 8], [1]) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="sweep one of"):
        stats.bound_log_slope(relu, [2, 4], [1, 2])
    with pytest.raises(ValueError, match="Delta = 0"):
        stats.bound_log_slope(Activation.named("identity"), [2, 4], [1])


def test_theory_bound_factor_closed_forms():
    relu, absolute = Activation.named("relu"), Activation.named("abs")
    assert stats.theory_bound_factor(relu, 3) == pytest.approx((4 + 3) * 2)  # Delta = 1/2, kappa^2 = 2
    assert stats.theory_bound_factor(absolute, 3) == pytest.approx(1 + 3)  # Delta = 1, kappa^2 = 1
    assert stats.theory_bound_factor(relu, 3, output_dim=4) == pytest.approx((4 + 2 * 3) * 2)
    assert stats.theory_bound_factor(Activation.named("identity"), 3) == math.inf
