"""Eigen-analysis of known spectra, and the deep-limit spectral predictions of SCIENCE §4 (ntk_eoc.spectrum)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ntk_eoc import Activation, limit_kernel
from ntk_eoc.analysis.spectrum import eigen_summary, inverse_cosine_constant, limit_spectrum, predicted_limits

# eigvalsh is backward stable: eigenvalue errors are a few ulps of ||A|| for these small matrices.
EIG_ATOL = 1e-12
# limit_spectrum and limit_kernel run the same recursion in different loops; both are float64.
ROUTE_ATOL = 1e-12
# Measured gaps to the l -> infinity limits at l = 10^4 (n = 6): Theta_l/l - 1/4 ~ 4e-4, which makes
# lambda_min n/l - 3/4 ~ 4e-4 and a relative error of cond ~ 2e-3. The bounds leave a factor ~2.5.
DEEP = 10_000
THETA_GAP_AT_DEEP = 1e-3
COND_RTOL_AT_DEEP = 5e-3
INV_COS_RTOL_AT_DEEP = 1e-3


def _unit_norm_inputs(n, in_dim, seed):
    x = np.random.default_rng(seed).standard_normal((n, in_dim))
    return x * np.sqrt(in_dim) / np.linalg.norm(x, axis=1, keepdims=True)


def _with_spectrum(eigs, rng):
    q, _ = np.linalg.qr(rng.standard_normal((len(eigs), len(eigs))))
    return (q * eigs) @ q.T


def test_eigen_summary_recovers_known_spectra():
    rng = np.random.default_rng(0)
    spectra = np.array([[0.5, 1.0, 2.0, 4.0], [1e-3, 1.0, 1.0, 10.0], [3.0, 3.0, 3.0, 3.0]])
    mats = np.stack([_with_spectrum(s, rng) for s in spectra])
    mats = 0.5 * (mats + mats.transpose(0, 2, 1))
    out = eigen_summary(xr.DataArray(mats, dims=("draw", "i", "j")))
    np.testing.assert_allclose(out.eigenvalues, spectra, atol=EIG_ATOL * spectra.max())
    np.testing.assert_allclose(out.lambda_min, spectra[:, 0], atol=EIG_ATOL * spectra.max())
    np.testing.assert_allclose(out.lambda_max, spectra[:, -1], atol=EIG_ATOL * spectra.max())
    np.testing.assert_allclose(out.cond, [8.0, 1e4, 1.0], rtol=1e-8)  # 1e4 * ulp / 1e-3 relative
    assert out.eigenvalues.dims == ("draw", "eig")


def test_eigen_summary_singular_matrix_has_infinite_condition_number():
    out = eigen_summary(xr.DataArray(np.ones((1, 3, 3)), dims=("draw", "i", "j")))
    assert np.isinf(out.cond).all()


def test_eigen_summary_nan_raises():
    with pytest.raises(ValueError, match="non-finite"):
        eigen_summary(xr.DataArray(np.full((2, 2), np.nan), dims=("i", "j")))


def test_predicted_limits_are_those_of_three_quarters_identity_plus_quarter_ones():
    n = 8
    pred = predicted_limits(n)
    assert (pred.lambda_min_scaled, pred.lambda_max_scaled, pred.theta_offdiag_scaled) == (0.75, 2.75, 0.25)
    assert pred.cond == pytest.approx(1 + n / 3)
    eig = np.linalg.eigvalsh(0.75 * np.eye(n) + 0.25 * np.ones((n, n)))
    np.testing.assert_allclose([eig[0], eig[-1], eig[-1] / eig[0]], [0.75, 2.75, pred.cond], rtol=1e-14)


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_limit_spectrum_matches_limit_kernel_at_every_depth(name):
    x, act, depths = _unit_norm_inputs(5, 7, 1), Activation.named(name), [1, 2, 7, 30]
    out = limit_spectrum(x, act, depths, output_dim=2)
    for d in depths:
        eig = np.linalg.eigvalsh(limit_kernel(x, act, d, output_dim=2))
        np.testing.assert_allclose(out.eigenvalues.sel(depth=d), eig, atol=ROUTE_ATOL * d)
    # Theta_l(x, x) = l: trace K_inf = n m_l l / n = m_l l
    np.testing.assert_allclose(out.eigenvalues.sum("eig"), 2.0 * np.array(depths), rtol=1e-13)


def test_limit_spectrum_deduplicates_sorts_and_rejects_bad_depths():
    x = _unit_norm_inputs(3, 4, 2)
    out = limit_spectrum(x, Activation.named("relu"), [5, 1, 5])
    np.testing.assert_array_equal(out.depth, [1, 5])
    with pytest.raises(ValueError, match="depths"):
        limit_spectrum(x, Activation.named("relu"), [0, 3])


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_deep_limit_spectrum_approaches_predictions(name):
    n = 6
    out = limit_spectrum(_unit_norm_inputs(n, 12, 3), Activation.named(name), [10, 100, 1000, DEEP])
    pred = predicted_limits(n)
    theta_gap = np.abs(out.theta_offdiag_scaled_max - pred.theta_offdiag_scaled)
    lmin_gap = np.abs(out.lambda_min_scaled - pred.lambda_min_scaled)
    lmax_gap = np.abs(out.lambda_max_scaled - pred.lambda_max_scaled)
    cond_gap = np.abs(out.cond / pred.cond - 1.0)
    for gap in (theta_gap, lmin_gap, lmax_gap, cond_gap, out.inv_cos_relerr_max):
        assert np.all(np.diff(gap.values) < 0), "the gap to the limit must shrink with depth"
    deep = {"depth": DEEP}
    assert float(theta_gap.sel(deep)) < THETA_GAP_AT_DEEP
    assert float(lmin_gap.sel(deep)) < THETA_GAP_AT_DEEP
    assert float(cond_gap.sel(deep)) < COND_RTOL_AT_DEEP
    assert float(out.inv_cos_relerr_max.sel(deep)) < INV_COS_RTOL_AT_DEEP
    assert float(out.pred_cond) == pytest.approx(1 + n / 3)


def test_linear_network_warns_and_has_no_inverse_cosine_approximation():
    x = _unit_norm_inputs(4, 8, 4)
    with pytest.warns(UserWarning, match="linear network"):
        out = limit_spectrum(x, Activation.named("identity"), [1, 3])
    assert np.isinf(out.inv_cos_relerr_max).all()
    assert inverse_cosine_constant(0.0) == np.inf
    # Theta_l = l rho_1 for Delta = 0
    gram = x @ x.T / x.shape[1]
    np.testing.assert_allclose(out.eigenvalues.sel(depth=3), np.linalg.eigvalsh(3 * gram / 4), atol=1e-13)


def test_limit_spectra_concatenate_over_activations():
    x = _unit_norm_inputs(3, 4, 5)
    both = xr.concat(
        [limit_spectrum(x, Activation.named(a), [1, 4]) for a in ("relu", "abs")],
        dim="activation",
        data_vars="all",
        coords="different",
        compat="equals",
    )
    assert both.cond.dims == ("activation", "depth")
    np.testing.assert_array_equal(both.delta, [0.5, 1.0])


def test_predicted_log_coefficients_are_those_of_science_section_4():
    n = 8
    pred = predicted_limits(n)
    assert (pred.theta_offdiag_log_coef, pred.lambda_min_log_coef) == (0.375, -0.375)
    assert pred.lambda_max_log_coef == pytest.approx(0.375 * (n - 1), rel=1e-15)
    assert pred.cond_log_coef == pytest.approx(2 * n / 3, rel=1e-15)


# Measured (n = 6, m_0 = 12, seed 3) at l = 10^4 (relu; abs is closer): l x plain error = 0.509 (1/2 + 1.8%),
# l x corrected error = 0.0096, and the residual drift per unit ln l between 10^3 and 10^4 is 2% of the
# ln-l coefficient (theta, lambda_min, lambda_max; 0.3% cond; abs 0.2-0.9%). The bounds leave a factor 2.
PLAIN_SCALED_RTOL = 0.04
CORRECTED_SCALED_MAX = 0.02
RESIDUAL_DRIFT_RTOL = 0.04


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_asymptotic_forms_of_science_section_4_hold_in_the_deep_limit(name):
    out = limit_spectrum(_unit_norm_inputs(6, 12, 3), Activation.named(name), [100, 1000, DEEP])
    ls = out.depth.values.astype(float)
    plain_scaled = ls * out.inv_cos_relerr_plain_median.values
    assert plain_scaled[-1] == pytest.approx(0.5, rel=PLAIN_SCALED_RTOL)
    corrected_scaled = ls * out.inv_cos_relerr_corrected_max.values
    assert corrected_scaled[-1] <= CORRECTED_SCALED_MAX and np.all(np.diff(corrected_scaled) < 0)
    for prefix in ("theta_offdiag", "lambda_min", "lambda_max", "cond"):
        drift = np.abs(np.diff(out[f"{prefix}_residual"].values) / np.diff(np.log(ls)))
        coef = abs(float(out[f"pred_{prefix}_log_coef"]))
        assert drift[-1] < RESIDUAL_DRIFT_RTOL * coef and drift[-1] < drift[0], prefix


def test_residuals_are_the_stated_combinations():
    n = 5
    out = limit_spectrum(_unit_norm_inputs(n, 9, 6), Activation.named("relu"), [3, 40])
    ls = out.depth.values.astype(float)
    expected = ls * (out.cond.values - 1 - n / 3) - (2 * n / 3) * np.log(ls)
    np.testing.assert_allclose(out.cond_residual, expected, rtol=1e-12)
    expected = ls * (out.lambda_min_scaled.values - 0.75) + 0.375 * np.log(ls)
    np.testing.assert_allclose(out.lambda_min_residual, expected, rtol=1e-12)
