"""The infinite-width NTK K_inf (SCIENCE.md §3) against closed forms and independent routes."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext, localcontext

import numpy as np
import pytest
from math_helpers import angle_step
from scipy import integrate

from ntk_eoc import Activation, limit_kernel, limit_layers
from ntk_eoc.math.limit import correlation_map, derivative_map, input_angles

RELU = Activation.named("relu")
ABS = Activation.named("abs")
ACTIVATIONS = [RELU, ABS, Activation(-0.3, 0.8), Activation.named("leaky_relu", alpha=0.1)]


def arccos_ntk(rho1: np.ndarray, depth: int) -> np.ndarray:
    """Theta_l of ReLU at sigma^2 = 2 from the normalized degree-1 arc-cosine kernel:
    kappa_1(rho) = (sqrt(1 - rho^2) + (pi - arccos rho) rho) / pi, kappa_0(rho) = (pi - arccos rho) / pi,
    rho_{k+1} = kappa_1(rho_k), Theta_1 = rho_1, Theta_{k+1} = kappa_1(rho_k) + kappa_0(rho_k) Theta_k."""
    rho, theta = rho1.copy(), rho1.copy()
    for _ in range(1, depth):
        arccos = np.arccos(np.clip(rho, -1.0, 1.0))
        kappa1 = (np.sqrt(np.clip(1.0 - rho**2, 0.0, None)) + (np.pi - arccos) * rho) / np.pi
        kappa0 = (np.pi - arccos) / np.pi
        rho, theta = kappa1, kappa1 + kappa0 * theta
    return theta


def cosines(x: np.ndarray) -> np.ndarray:
    xhat = x / np.linalg.norm(x, axis=1, keepdims=True)
    return xhat @ xhat.T


@pytest.mark.parametrize("depth", [1, 2, 3, 7, 20])
def test_relu_limit_kernel_equals_the_degree_one_arccos_ntk(sphere, tol, depth):
    x = sphere(7, 5)
    n = x.shape[0]
    rho1 = cosines(x)
    # The rho form loses half the digits of 1 - rho near rho = 1 (arccos), so it is fed the exact
    # diagonal rho = 1; off the diagonal these depths keep rho_l below ~0.999, where it is accurate.
    np.fill_diagonal(rho1, 1.0)
    expected = arccos_ntk(rho1, depth) / n
    t = tol["float64_recursion"]
    np.testing.assert_allclose(limit_kernel(x, RELU, depth), expected, rtol=t.rtol, atol=t.atol / n)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
@pytest.mark.parametrize("depth", [1, 4, 50])
def test_limit_kernel_diagonal_equals_depth(sphere, act, depth):
    x = sphere(6, 9)
    # Theta_l(x, x) = l exactly in the angle form; the only rounding is ||x||^2 / m_0 and the 1/n.
    np.testing.assert_allclose(np.diag(limit_kernel(x, act, depth)) * x.shape[0], depth, rtol=1e-14)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_limit_kernel_is_exactly_symmetric_and_positive_semidefinite(sphere, act):
    x = np.vstack([sphere(10, 4), -sphere(2, 4, seed=7)])  # include near-antipodal pairs
    k = limit_kernel(x, act, 6)
    np.testing.assert_array_equal(k, k.T)
    eig = np.linalg.eigvalsh(k)
    # eigvalsh of a PSD matrix can return negatives of size ~ n eps ||K||, no larger.
    assert eig.min() >= -x.shape[0] * np.finfo(float).eps * eig.max()
    assert eig.max() > 0.0


def test_limit_kernel_scales_with_the_product_of_input_norms_over_m0(sphere, tol):
    x = sphere(5, 6)
    scales = np.array([0.3, 1.0, 2.5, 7.0, 0.01])
    base = limit_kernel(x, ABS, 5)
    scaled = limit_kernel(x * scales[:, None], ABS, 5)
    t = tol["float64_recursion"]
    # The angles of rescaled inputs equal the originals to rounding; the rest is one product.
    np.testing.assert_allclose(scaled, base * np.outer(scales, scales), rtol=t.rtol, atol=t.atol)
    # Unnormalised inputs: the convention ||x||^2 = m_0 is not assumed.
    y = sphere(3, 6) * 3.0
    np.testing.assert_allclose(np.diag(limit_kernel(y, RELU, 4)) * 3, 4 * 9.0, rtol=1e-14)


@pytest.mark.parametrize("act", [RELU, ABS], ids=lambda a: a.name)
def test_limit_kernel_at_depth_ten_thousand_is_finite_symmetric_with_diagonal_depth(sphere, act):
    x = sphere(5, 3)
    k = limit_kernel(x, act, 10_000) * x.shape[0]
    assert np.all(np.isfinite(k))
    np.testing.assert_array_equal(k, k.T)
    np.testing.assert_allclose(np.diag(k), 10_000, rtol=1e-14)
    off = k[np.triu_indices(5, k=1)]
    assert np.all(off < 10_000)


@pytest.mark.parametrize("act", [RELU, ABS], ids=lambda a: a.name)
def test_deep_limit_follows_the_derived_asymptotes(sphere, act):
    """SCIENCE.md §4: Theta_l / l -> 1/4 off the diagonal and
    Theta_l ~ (3 pi / (8 sqrt 2 Delta)) (1 - rho_l)^(-1/2)."""
    depth = 10_000
    layers = limit_layers(sphere(4, 3), act, depth)
    iu = np.triu_indices(4, k=1)
    theta, one_minus_rho = layers.theta[-1][iu], layers.one_minus_rho[-1][iu]
    # At l = 10^4 the observed gaps are ~5e-4 (Theta/l) and ~5e-5 (the rho asymptote); the
    # bounds are 20x those: they check the limits, not their rates.
    np.testing.assert_allclose(theta / depth, 0.25, atol=1e-2)
    constant = 3.0 * np.pi / (8.0 * np.sqrt(2.0) * act.delta)
    np.testing.assert_allclose(theta * np.sqrt(one_minus_rho) / constant, 1.0, atol=1e-3)


def test_limit_kernel_of_three_thousand_points_in_row_blocks_matches_pairwise_kernels(sphere, tol):
    n, depth = 3000, 3
    x = sphere(n, 16)
    k = limit_kernel(x, ABS, depth)
    assert k.shape == (n, n)
    np.testing.assert_array_equal(k, k.T)
    np.testing.assert_allclose(np.diag(k) * n, depth, rtol=1e-14)
    # Pairs straddling the row blocks (2^21 // 3000 = 699 rows each) and the far corner.
    t = tol["float64_recursion"]
    for i, j in [(0, 1), (0, 2999), (698, 699), (699, 1398), (1400, 2100), (2998, 2999), (2999, 5)]:
        pair = limit_kernel(x[[i, j]], ABS, depth) * 2
        # Entry (i, j) from an n = 2 call: the same recursion from an angle computed in a different
        # matmul, equal to rounding.
        np.testing.assert_allclose(k[i, j] * n, pair[0, 1], rtol=t.rtol, atol=t.atol)


def _sigma2_expectation(act: Activation, rho: float, derivative: bool) -> float:
    """sigma^2 E[g(u) g(v)] for (u, v) standard Gaussians with correlation rho, g = phi or phi', by
    integrating over the direction of (u, w), v = rho u + sqrt(1 - rho^2) w: phi is positively
    homogeneous of degree 1 (E[r^2] = 2) and phi' of degree 0."""
    c = math.sqrt(1.0 - rho * rho)
    g = act.dphi if derivative else act.phi

    def integrand(t: float) -> float:
        return float(g(math.cos(t))) * float(g(rho * math.cos(t) + c * math.sin(t)))

    # The integrand kinks where cos t = 0 or v = 0; give quad those points.
    t_v0 = math.atan2(-rho, c) % math.pi
    kinks = sorted({math.pi / 2, 3 * math.pi / 2, t_v0, t_v0 + math.pi})
    value, _ = integrate.quad(integrand, 0.0, 2.0 * math.pi, points=kinks, epsabs=1e-13, epsrel=1e-13, limit=200)
    radial = 1.0 if derivative else 2.0
    return act.sigma2 * radial * value / (2.0 * math.pi)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
@pytest.mark.parametrize("rho", [-0.95, -0.4, 0.0, 0.3, 0.8, 0.99])
def test_correlation_and_derivative_maps_equal_gaussian_expectations(act, rho):
    # quad on a piecewise-smooth periodic integrand with its kinks given: ~1e-13 absolute.
    np.testing.assert_allclose(
        correlation_map(np.array(rho), act.delta), _sigma2_expectation(act, rho, False), atol=1e-10
    )
    np.testing.assert_allclose(
        derivative_map(np.array(rho), act.delta), _sigma2_expectation(act, rho, True), atol=1e-10
    )


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_angle_step_equals_one_step_of_the_rho_form_away_from_plus_minus_one(act):
    rho = np.linspace(-0.95, 0.95, 39)
    next_angle, one_minus_f, fdot = angle_step(np.arccos(rho), act.delta)
    f = correlation_map(rho, act.delta)
    # |rho| <= 0.95: arccos, sqrt(1 - rho^2) and 1 - f lose at most a few digits (cond. < 10).
    np.testing.assert_allclose(1.0 - one_minus_f, f, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(np.cos(next_angle), f, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(fdot, derivative_map(rho, act.delta), rtol=1e-13, atol=1e-14)


def _pairs_with_cosines(rho1: np.ndarray) -> np.ndarray:
    """(2 len(rho1), 2) points on the circle of radius sqrt 2, pair i = rows 2i, 2i+1 with cosine rho1[i]."""
    first = np.stack([np.ones_like(rho1), np.zeros_like(rho1)], axis=1)
    second = np.stack([rho1, np.sqrt(1.0 - rho1**2)], axis=1)
    return np.sqrt(2.0) * np.stack([first, second], axis=1).reshape(-1, 2)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_limit_layers_agree_with_the_rho_form_recursion_away_from_plus_minus_one(act):
    rho1 = np.array([-0.9, -0.5, 0.0, 0.3, 0.6, 0.9])
    depth = 8
    layers = limit_layers(_pairs_with_cosines(rho1), act, depth)
    pair = (np.arange(0, 2 * rho1.size, 2), np.arange(1, 2 * rho1.size, 2))
    rho, theta = rho1.copy(), rho1.copy()
    for k in range(depth):
        if k:
            rho_next = correlation_map(rho, act.delta)
            rho, theta = rho_next, rho_next + derivative_map(rho, act.delta) * theta
        # rho_k stays below ~0.99 at these depths, where both forms are well conditioned: ~depth * 10 ulp.
        np.testing.assert_allclose(layers.rho[k][pair], rho, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(layers.theta[k][pair], theta, rtol=1e-12, atol=1e-13)


def _asin_decimal(z: Decimal) -> Decimal:
    """arcsin z for 0 <= z <= 1 in the current decimal context: halve the argument below 0.3 with
    arcsin z = 2 arcsin(z / sqrt(2 (1 + sqrt(1 - z^2)))), then sum the Taylor series."""
    if z > Decimal("0.3"):
        return 2 * _asin_decimal(z / (2 * (1 + (1 - z * z).sqrt())).sqrt())
    eps = Decimal(10) ** (-2 * getcontext().prec)
    total, term, k = Decimal(0), z, 0
    while k == 0 or abs(term) > eps:
        total += term / (2 * k + 1)
        k += 1
        term = term * z * z * (2 * k - 1) / (2 * k)
    return total


def _rho_form_decimal(rho1: str, delta: float, depth: int, digits: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(1 - rho_k, Theta_k) for k = 1..depth from the rho form of SCIENCE.md §3 at ``digits`` digits.
    At 60 digits 1 - f keeps > 50 significant digits while 1 - rho_k >= 1e-8: an exact reference."""
    with localcontext() as ctx:
        ctx.prec = digits
        pi = 6 * _asin_decimal(Decimal("0.5"))
        d, rho = Decimal(delta), Decimal(rho1)
        theta = rho
        one_minus_rho, thetas = [1 - rho], [theta]
        for _ in range(1, depth):
            arccos = 2 * _asin_decimal(((1 - rho) / 2).sqrt())
            arcsin = pi / 2 - arccos
            f = (1 - d) * rho + d * 2 / pi * ((1 - rho * rho).sqrt() + rho * arcsin)
            fdot = (1 - d) + d * 2 / pi * arcsin
            rho, theta = f, f + fdot * theta
            one_minus_rho.append(1 - rho)
            thetas.append(theta)
        return np.array([float(v) for v in one_minus_rho]), np.array([float(v) for v in thetas])


@pytest.mark.parametrize(("act", "rho1"), [(RELU, "0.4"), (ABS, "-0.7")], ids=["relu", "abs"])
def test_one_minus_rho_stays_accurate_at_depth_ten_thousand(act, rho1):
    depth = 10_000
    ref_one_minus_rho, ref_theta = _rho_form_decimal(rho1, act.delta, depth)
    layers = limit_layers(_pairs_with_cosines(np.array([float(rho1)])), act, depth)
    # The angle form carries 1 - rho_k (~4e-7 at l = 10^4) to full relative precision: errors of
    # ~1 ulp per layer accumulate to <~ depth * eps = 2e-12 (observed 1e-14); 1e-11 bounds that.
    np.testing.assert_allclose(layers.one_minus_rho[:, 0, 1], ref_one_minus_rho, rtol=1e-11)
    np.testing.assert_allclose(layers.theta[:, 0, 1], ref_theta, rtol=1e-11)
    # The reference resolves what float64 rho arithmetic cannot: the rho form of the same recursion
    # is off by ~1e-6 in 1 - rho_l there, so the comparison above is not vacuous.
    rho = float(rho1)
    for _ in range(1, depth):
        rho = float(correlation_map(np.array(rho), act.delta))
    assert abs((1.0 - rho) / ref_one_minus_rho[-1] - 1.0) > 1e-9


def test_output_dim_gives_kron_of_the_kernel_with_the_identity(sphere):
    x = sphere(4, 5)
    single = limit_kernel(x, ABS, 3)
    np.testing.assert_array_equal(limit_kernel(x, ABS, 3, output_dim=3), np.kron(single, np.eye(3)))
    np.testing.assert_array_equal(limit_layers(x, ABS, 3, output_dim=2).ntk, np.kron(single, np.eye(2)))


@pytest.mark.parametrize("act", [RELU, Activation(-0.3, 0.8)], ids=lambda a: a.name)
def test_return_layers_is_consistent_with_the_matrix(sphere, act):
    x = sphere(5, 4) * np.array([1.0, 2.0, 0.5, 1.0, 3.0])[:, None]
    n, depth = 5, 6
    layers = limit_layers(x, act, depth)
    assert layers.rho.shape == layers.one_minus_rho.shape == layers.theta.shape == (depth, n, n)
    scale = np.outer(np.linalg.norm(x, axis=1), np.linalg.norm(x, axis=1)) / x.shape[1]
    # The same float64 arithmetic along a different path (one block vs row blocks, the scale applied
    # per layer vs once): equal to a few ulp, hence 1e-14 relative (1e-12 after six layers of steps).
    np.testing.assert_allclose(layers.ntk, limit_kernel(x, act, depth), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(layers.theta[-1] / n, layers.ntk, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(layers.rho[0], cosines(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(layers.rho, 1.0 - layers.one_minus_rho)
    np.testing.assert_allclose(layers.nngp, layers.rho[-1] * scale, rtol=1e-15, atol=0)
    for k in range(depth):
        np.testing.assert_allclose(np.diag(layers.theta[k]), (k + 1) * np.diag(scale), rtol=1e-14)
        np.testing.assert_allclose(np.diag(layers.rho[k]), 1.0, rtol=0, atol=0)
    # Theta_{k+1} = rho_{k+1} + fdot(rho_k) Theta_k (unit-norm quantities).
    unit = layers.theta / scale
    for k in range(depth - 1):
        step = layers.rho[k + 1] + derivative_map(layers.rho[k], act.delta) * unit[k]
        np.testing.assert_allclose(unit[k + 1], step, rtol=1e-12, atol=1e-13)


def test_linear_network_warns_and_has_kernel_depth_times_rho1(sphere, tol):
    x = sphere(4, 6)
    with pytest.warns(UserWarning, match="Delta_phi = 0"):
        k = limit_kernel(x, Activation.named("identity"), 5)
    t = tol["float64_recursion"]
    np.testing.assert_allclose(k * 4, 5 * cosines(x), rtol=t.rtol, atol=t.atol)


def test_zero_input_raises_value_error_naming_its_row(sphere):
    x = sphere(4, 3)
    x[2] = 0.0
    with pytest.raises(ValueError, match=r"zero input\(s\) at row\(s\) \[2\]"):
        limit_kernel(x, RELU, 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_raises_value_error_naming_the_entry(sphere, bad):
    x = sphere(4, 3)
    x[1, 2] = bad
    with pytest.raises(ValueError, match=rf"X has 1 non-finite value\(s\) \(first at \(1, 2\): {bad}\)"):
        limit_kernel(x, RELU, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"depth": 0}, "depth=0"), ({"depth": 2.0}, "depth=2.0"), ({"depth": 3, "output_dim": 0}, "output_dim=0")],
)
def test_bad_depth_or_output_dim_raises_naming_it(sphere, kwargs, match):
    with pytest.raises(ValueError, match=match):
        limit_kernel(sphere(3, 3), RELU, **kwargs)


def test_input_of_wrong_shape_raises():
    with pytest.raises(ValueError, match=r"X=<array of shape \(4,\)>: must have shape \(n, m_0\)"):
        limit_kernel(np.ones(4), RELU, 3)


def test_input_angles_are_accurate_for_nearly_parallel_points():
    angle = 1e-9
    x = np.array([[1.0, 0.0], [np.cos(angle), np.sin(angle)]])
    # arccos of the cosine would give ~1e-8 (half the digits); the chord form is exact to rounding.
    np.testing.assert_allclose(input_angles(x)[0, 1], angle, rtol=1e-12)


def test_factorized_layers_count_twice_in_the_limit(sphere):
    x = sphere(6, 5)
    act = Activation.named("abs")
    dense = limit_kernel(x, act, 4)
    np.testing.assert_array_equal(limit_kernel(x, act, 4, factorized=[False] * 4), dense)
    layers = limit_layers(x, act, 4, factorized=[True, False, True, False])
    # Theta_l(x, x) = sum_k mu_k = 2 + 1 + 2 + 1; the correlations do not change.
    np.testing.assert_allclose(np.diag(layers.ntk) * 6, 6.0, rtol=1e-14)
    np.testing.assert_array_equal(layers.rho, limit_layers(x, act, 4).rho)
    # Theta_1 = 2 rho_1 and Theta_2 = rho_2 + fdot(rho_1) Theta_1 by hand.
    rho = layers.rho
    np.testing.assert_allclose(layers.theta[0], 2 * rho[0], rtol=1e-13, atol=1e-15)
    fdot = derivative_map(rho[0], act.delta)
    np.testing.assert_allclose(layers.theta[1], rho[1] + fdot * 2 * rho[0], rtol=1e-13, atol=1e-15)


def test_bad_factorized_flags_and_elementwise_activations_raise(sphere):
    from ntk_eoc import Elementwise

    x = sphere(4, 3)
    with pytest.raises(ValueError, match=r"factorized must list 3 booleans"):
        limit_kernel(x, Activation.named("relu"), 3, factorized=[True])
    with pytest.raises(TypeError, match=r"the \(a,b\)-ReLU family only, got activation 'tanh'"):
        limit_kernel(x, Elementwise("tanh"), 3)
