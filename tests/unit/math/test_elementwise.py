"""Elementwise activations sigmoid, tanh, erf: derivatives, E[phi(z)^2] and the Activation interface."""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import jax
import numpy as np
import pytest
from scipy import integrate

from ntk_eoc.math.activations import ELEMENTWISE_NAMES, GAUSS_HERMITE_NODES, Elementwise

# Points on both sides of 0, 0 itself and the tails where the derivatives are small.
POINTS = np.array([-6.0, -2.5, -1.0, -1e-3, 0.0, 1e-3, 0.7, 1.9, 4.0])


@pytest.mark.parametrize("name", ELEMENTWISE_NAMES)
def test_dphi_matches_central_finite_differences(name):
    act = Elementwise(name)
    h = 1e-5
    fd = (np.asarray(act.phi(POINTS + h)) - np.asarray(act.phi(POINTS - h))) / (2.0 * h)
    # Truncation h^2 |phi'''| / 6 <= 2e-11 (|phi'''| <= 1.2) plus rounding ~ eps / h = 2e-11.
    np.testing.assert_allclose(np.asarray(act.dphi(POINTS)), fd, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE_NAMES)
def test_dphi_matches_jax_grad(name):
    act = Elementwise(name)
    grad = np.asarray(jax.vmap(jax.grad(act.phi))(POINTS))
    assert grad.dtype == np.float64
    # Algebraically equal float64 formulas of O(1) size: a few ulp.
    np.testing.assert_allclose(np.asarray(act.dphi(POINTS)), grad, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(
    ("name", "s", "expected"),
    [
        # Closed forms at s = 30, where p (1 - p) and 1 - tanh^2 would cancel: e^-s / (1 + e^-s)^2,
        # 4 e^-2s / (1 + e^-2s)^2 and (2 / sqrt pi) e^-s^2.
        ("sigmoid", 30.0, math.exp(-30.0) / (1.0 + math.exp(-30.0)) ** 2),
        ("tanh", 30.0, 4.0 * math.exp(-60.0) / (1.0 + math.exp(-60.0)) ** 2),
        ("erf", 5.0, 2.0 / math.sqrt(math.pi) * math.exp(-25.0)),
    ],
)
def test_dphi_keeps_relative_precision_in_the_tails(name, s, expected):
    act = Elementwise(name)
    # A handful of float64 operations each: ~10 ulp relative.
    np.testing.assert_allclose(float(act.dphi(np.float64(s))), expected, rtol=1e-13)
    np.testing.assert_allclose(float(act.dphi(np.float64(-s))), expected, rtol=1e-13)


def test_phi_matches_the_definitions():
    s = POINTS
    # Reference formulas in plain numpy/math: a few ulp apart.
    np.testing.assert_allclose(np.asarray(Elementwise("sigmoid").phi(s)), 1.0 / (1.0 + np.exp(-s)), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(Elementwise("tanh").phi(s)), np.tanh(s), rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(np.asarray(Elementwise("erf").phi(s)), [math.erf(v) for v in s], rtol=1e-14, atol=1e-16)


def test_erf_norm2_matches_the_closed_form():
    # E[erf(z)^2] = (2/pi) arcsin(2/3): quadrature error < 1e-15 (module docstring), rounding ~ 1e-16.
    np.testing.assert_allclose(Elementwise("erf").norm2, 2.0 / math.pi * math.asin(2.0 / 3.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE_NAMES)
def test_norm2_matches_adaptive_quadrature(name):
    act = Elementwise(name)

    def integrand(z: float) -> float:
        return float(act.phi(np.float64(z))) ** 2 * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)

    # The integrand is < 1e-300 beyond |z| = 40. quad reports an error estimate ~1e-14 or less.
    ref, err = integrate.quad(integrand, -40.0, 40.0, epsabs=1e-14, epsrel=1e-14, limit=200)
    assert err < 1e-13
    # The Gauss-Hermite value agrees to < 1e-15 (measured); 1e-12 is the accuracy promised.
    np.testing.assert_allclose(act.norm2, ref, rtol=0, atol=1e-12)
    assert GAUSS_HERMITE_NODES == 200


def test_norm2_matches_monte_carlo(seed, bonferroni, false_failure_rate):
    # One sample of M standard normals per activation; the z-score of the sample mean of phi(z)^2
    # (CLT, M = 2e5, phi^2 bounded in [0, 1]) is compared with the Bonferroni threshold over the three
    # activations at the suite's false-failure rate (z ~ 4.7).
    m = 200_000
    z_max = bonferroni(len(ELEMENTWISE_NAMES), false_failure_rate)
    for i, name in enumerate(ELEMENTWISE_NAMES):
        act = Elementwise(name)
        z = np.random.default_rng([seed, 7331, i]).standard_normal(m)
        sq = np.asarray(act.phi(z)) ** 2
        score = (sq.mean() - act.norm2) / (sq.std(ddof=1) / math.sqrt(m))
        assert abs(score) < z_max, f"{name}: z-score {score:.2f} over {z_max:.2f}"


@pytest.mark.parametrize("name", ELEMENTWISE_NAMES)
def test_sigma_normalises_the_second_moment(name):
    act = Elementwise(name)
    # One division and one sqrt: a few ulp.
    np.testing.assert_allclose(act.sigma2 * act.norm2, 1.0, rtol=1e-15)
    np.testing.assert_allclose(act.sigma**2, act.sigma2, rtol=1e-15)
    assert 0.0 < act.norm2 < 1.0


def test_activation_interface_and_no_limit():
    for name in ELEMENTWISE_NAMES:
        act = Elementwise(name)
        assert act.name == name
        assert act.is_linear is False
        assert act.has_limit is False
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            act.warn_if_linear()
    assert Elementwise.has_limit is False
    assert [f.name for f in dataclasses.fields(Elementwise)] == ["name"]  # has_limit is not a field


def test_hashable_frozen_and_equal_by_name():
    assert Elementwise("tanh") == Elementwise("tanh")
    assert Elementwise("tanh") != Elementwise("erf")
    assert hash(Elementwise("tanh")) == hash(Elementwise("tanh"))
    assert len({Elementwise(name) for name in ELEMENTWISE_NAMES * 2}) == len(ELEMENTWISE_NAMES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Elementwise("tanh").name = "erf"  # type: ignore[misc]

    calls = []

    @functools.lru_cache(maxsize=8)
    def cached(act: Elementwise) -> str:
        calls.append(act)
        return act.name

    cached(Elementwise("erf"))
    cached(Elementwise("erf"))
    assert len(calls) == 1


def test_usable_as_a_static_jit_argument():
    run = jax.jit(lambda s, act: act.sigma * act.phi(s), static_argnums=1)
    s = np.linspace(-2.0, 2.0, 5)
    for name in ELEMENTWISE_NAMES:
        act = Elementwise(name)
        # Same float64 operations compiled or not: a few ulp.
        np.testing.assert_allclose(np.asarray(run(s, act)), act.sigma * np.asarray(act.phi(s)), rtol=1e-15)


@pytest.mark.parametrize("bad", ["gelu", "Tanh", "", 3])
def test_unknown_name_raises_naming_it_and_the_known_names(bad):
    with pytest.raises(ValueError, match=rf"name={bad!r}: unknown; known: sigmoid, tanh, erf"):
        Elementwise(bad)
