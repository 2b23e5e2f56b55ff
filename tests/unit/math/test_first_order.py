"""The first-order theory of the whole kernel (SCIENCE §6.1): its jets against autodiff, its limit against
limit_kernel, its diagonal against the first order of the product form, its symmetries and scalings."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_eoc import Activation, limit_kernel, widths
from ntk_eoc.math import first_order as fo
from ntk_eoc.math.fluctuations import (
    first_order_kernel,
    fluctuation_weight,
    predicted_deviations,
    relative_variance_dsum,
)

RELU, ABS = Activation.named("relu"), Activation.named("abs")


@pytest.fixture(scope="module")
def x(sphere) -> np.ndarray:
    return sphere(5, 8, seed=31)


@pytest.fixture(scope="module")
def relu_model(x) -> fo.FirstOrderKernel:
    return first_order_kernel(RELU, x, [64, 128, 256], samples=2**13, seed=3)


def test_the_recursion_at_zero_fluctuation_is_the_limit_kernel(x, tol):
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    g0 = unit @ unit.T
    np.fill_diagonal(g0, 1.0)
    zeros = jnp.zeros((5, 5, 5))
    k, _, _, _ = fo._recursion(zeros, zeros, jnp.asarray(g0), ABS.delta)
    t = tol["float64_recursion"]
    np.testing.assert_allclose(np.asarray(k) / 5, limit_kernel(x, ABS, 6), rtol=t.rtol, atol=t.atol)


def test_jets_equal_second_derivatives_of_the_recursion_by_autodiff(x):
    """D K[t] and D^2 K[t, t] of the hand-built jet propagation against jax.jvp of jax.jvp of the recursion."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    g0 = jnp.asarray(unit @ unit.T).at[jnp.diag_indices(5)].set(1.0)
    layers, delta = 4, RELU.delta
    rng = np.random.default_rng(5)
    sym = rng.standard_normal((2, layers, 5, 5))
    tg, tb = (jnp.asarray(s + np.swapaxes(s, -1, -2)) for s in sym)
    zeros = jnp.zeros((layers, 5, 5))
    _, g_before, g_last, _ = fo._recursion(zeros, zeros, g0, delta)
    np.testing.assert_allclose(np.asarray(g_last), np.asarray(fo._forward_map(g_before[-1], delta)), rtol=1e-15)

    def kernel(eg, eb):
        return fo._recursion(eg, eb, g0, delta)[0]

    def first(eg, eb):
        return jax.jvp(kernel, (eg, eb), (tg, tb))[1]

    d1, d2 = jax.jvp(first, (zeros, zeros), (tg, tb))
    j1, j2 = fo._kernel_jet(g_before, g_last, tg, tb, delta)
    np.testing.assert_allclose(np.asarray(j1), np.asarray(d1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(j2), np.asarray(d2), rtol=1e-12, atol=1e-12)
    assert np.abs(np.asarray(d2)).max() > 1e-2  # the curvature is there to be matched


def test_diagonal_is_the_first_order_of_the_product_form(relu_model, bonferroni, false_failure_rate):
    """Var(K_ii) / E[K_ii]^2 = sum_k w(k/l) / m_k, within the Monte Carlo error of the one-neuron integrals."""
    hidden = np.array([64.0, 128.0, 256.0])
    exact = float(np.sum(fluctuation_weight(np.arange(1, 4) / 4, RELU) / hidden))
    diagonal = np.flatnonzero(relu_model.rows == relu_model.cols)
    se = np.diag(relu_model.covariance_se)[diagonal] / np.diag(relu_model.limit) ** 2
    measured = relu_model.relative_diagonal_variance()
    z = bonferroni(diagonal.size, false_failure_rate)
    assert np.all(np.abs(measured - exact) <= z * se), (measured, exact, se)
    assert np.all(se < 0.05 * exact)  # the check resolves a 25% error (e.g. C' = 0 instead of 1)


def test_mean_shift_is_zero_on_the_diagonal_and_exactly_zero_at_depth_two(x, relu_model, bonferroni):
    """E[K_ii] = l/n exactly (a multilinear recursion); at l = 2 the recursion is linear in the fluctuation."""
    shift, se = np.diag(relu_model.mean_shift), np.diag(relu_model.mean_shift_se)
    assert np.all(np.abs(shift) <= bonferroni(5, 1e-5) * se)
    two = first_order_kernel(RELU, x, [32], samples=2**8)
    assert np.all(two.mean_shift == 0.0)
    off = ~np.eye(5, dtype=bool)
    assert np.median(np.abs(relu_model.mean_shift[off]) / relu_model.mean_shift_se[off]) > 5  # curvature: nonzero


def test_depth_one_is_deterministic(x):
    one = first_order_kernel(RELU, x, [], samples=2**8)
    assert one.hidden_widths == () and not one.covariance.any() and not one.mean_shift.any()
    np.testing.assert_array_equal(one.limit, limit_kernel(x, RELU, 1))


def test_covariance_is_symmetric_positive_semidefinite_and_scales_with_widths_and_norms(x, relu_model):
    cov = relu_model.covariance
    np.testing.assert_allclose(cov, cov.T, rtol=1e-12, atol=0)
    assert np.linalg.eigvalsh(cov).min() > -1e-12 * np.abs(cov).max()
    full = relu_model.entry_covariance()
    np.testing.assert_array_equal(full, full.transpose(1, 0, 2, 3))
    np.testing.assert_array_equal(full, full.transpose(2, 3, 0, 1))
    wide = relu_model.scaled(4.0)
    assert wide.hidden_widths == (256.0, 512.0, 1024.0)
    np.testing.assert_allclose(wide.covariance, cov / 4, rtol=1e-15)
    scale = np.array([0.5, 1.0, 2.0, 3.0, 1.5])
    scaled = first_order_kernel(RELU, x * scale[:, None], [64, 128, 256], samples=2**13, seed=3)
    outer = np.outer(scale, scale)[relu_model.rows, relu_model.cols]
    np.testing.assert_allclose(scaled.covariance, cov * np.outer(outer, outer), rtol=1e-10)


def test_predicted_deviations_scale_as_one_over_root_m(relu_model):
    base = predicted_deviations(relu_model, draws=512, seed=1)
    wide = predicted_deviations(relu_model.scaled(4.0), draws=512, seed=1)
    for name in ("op_rel", "fro_rel", "max_rel", "op_abs"):
        np.testing.assert_allclose(wide[name], base[name] / 2, rtol=1e-9)
    assert np.all(base["max_abs"] <= base["op_abs"] + 1e-15) and np.all(base["op_abs"] <= base["fro_abs"] + 1e-15)
    shifted = predicted_deviations(relu_model, draws=512, seed=1, include_shift=True)
    assert not np.allclose(shifted["fro_abs"], base["fro_abs"])


def test_schedule_widths_feed_the_model(x):
    hidden = widths("quadratic", 16, 4, input_dim=8)[1:-1]
    model = first_order_kernel(ABS, x, hidden, samples=2**8)
    assert model.hidden_widths == (16.0, 64.0, 144.0) and model.samples == 2**8
    assert math.isclose(float(np.trace(model.limit)), 4.0, rel_tol=1e-12)  # E[K_ii] = l / n, n points


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: first_order_kernel("relu", x, [8]), "activation must be an"),
        (lambda x: first_order_kernel(RELU, np.vstack([x, 2 * x[:1]]), [8]), "two parallel rows"),
        (lambda x: first_order_kernel(RELU, x, [8, 0]), "hidden_widths"),
        (lambda x: first_order_kernel(RELU, x, [8], samples=10), "samples"),
        (lambda x: predicted_deviations(first_order_kernel(RELU, x, [8], samples=64), draws=1), "draws"),
        (lambda x: relative_variance_dsum("relu", x, [8]), "activation must be an"),
        (lambda x: relative_variance_dsum(RELU, x, [8, -1]), "hidden_widths"),
        (lambda x: relative_variance_dsum(RELU, np.vstack([x, -x[:1]]), [8]), "two parallel rows"),
        (lambda x: first_order_kernel(RELU, x, [8], shared_weights="yes"), "shared_weights"),
    ],
)
def test_bad_input_is_one_error_before_compute(x, call, message):
    with pytest.raises(ValueError, match=message):
        call(x)


def test_all_orders_independent_layer_sum_is_v_dsum_on_the_diagonal_and_first_order_at_large_width(x):
    """relative_variance_dsum: the diagonal is V_dsum (SCIENCE §6) within the Monte Carlo error of the
    one-neuron moments (C and C' to ~2% at 8192 neurons; V grows faster than the moments' error, so the
    tolerance is 4% of V at beta = 0.44); at m = 4096 the whole matrix is the first-order relative variance of
    :func:`first_order_kernel`, computed from other neurons (each within ~1.5% at 32768 neurons: 4%)."""
    from ntk_eoc.math.fluctuations import v_dsum

    hidden = [16] * 7  # constant widths, depth 8: beta = 0.44, V_dsum = 3.15 (first order 1.5)
    r = relative_variance_dsum(RELU, x, hidden, samples=2**13, seed=1)
    np.testing.assert_allclose(np.diag(r), v_dsum(RELU, hidden), rtol=0.04)
    off = ~np.eye(5, dtype=bool)
    assert np.all(r[off] > 0) and np.all(r[off] < np.diag(r).mean())
    wide = [4096] * 3  # two independent Monte Carlo computations of the same first-order variances
    model = first_order_kernel(RELU, x, wide, samples=2**15, seed=1)
    first = np.einsum("abab->ab", model.entry_covariance()) / np.outer(np.diag(model.limit), np.diag(model.limit))
    np.testing.assert_allclose(relative_variance_dsum(RELU, x, wide, samples=2**15, seed=2), first, rtol=0.04)
