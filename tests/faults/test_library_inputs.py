"""Bad calls of the public library functions: each is one clear error naming the argument, before any
compute, never a silent zero, NaN or inf kernel."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ntk_eoc.math.samplers as samplers_module
from ntk_eoc import Activation, Architecture, empirical_ntk, limit_kernel, sample_kernels, widths
from ntk_eoc.validate import norm_range

RELU = Activation.named("relu")
WIDTHS = [3, 8, 8, 1]


@pytest.fixture
def x(sphere) -> np.ndarray:
    return sphere(4, 3)


@pytest.fixture
def weights() -> list[jax.Array]:
    rng = np.random.default_rng(1)
    return [jnp.asarray(rng.standard_normal(s), dtype=jnp.float32) for s in [(8, 3), (8, 8), (1, 8)]]


@pytest.fixture
def no_compute(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("sample_kernels reached compute before rejecting its input")

    monkeypatch.setattr(samplers_module, "_compiled_draw", refuse)


def _sample(x, **kwargs):
    return sample_kernels(x, RELU, WIDTHS, draws=[0], seed=0, **kwargs)


@pytest.mark.parametrize(
    ("transform", "match"),
    [
        (lambda x: x * 1e-30, r"\|\|x\[0\]\|\|=.*e-30: 4 row norm\(s\) outside \[3\.3e-10, 4\.3e\+09\]"),
        (lambda x: x * 1e20, r"\|\|x\[0\]\|\|=.*e\+20: 4 row norm\(s\) outside"),
        (lambda x: np.where(x > 0.5, np.inf, x), r"x has \d+ non-finite value\(s\) \(first at"),
        (lambda x: x + 1j, r"x=<complex array \(4, 3\)>: must be real"),
        (lambda x: np.zeros((0, 3)), r"x=<array of shape \(0, 3\)>: must have shape \(n, m_0\)"),
        (lambda x: np.full((4, 3), "a"), r"x=<<U1 array>: must be a real numeric array"),
    ],
    ids=["underflow", "overflow", "inf", "complex", "empty", "strings"],
)
def test_sample_kernels_refuses_bad_inputs_before_compute(x, no_compute, transform, match):
    with pytest.raises(ValueError, match=rf"^sample_kernels: {match}"):
        _sample(transform(x))


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_boolean_flags_take_booleans_only(x, weights, no_compute, value):
    with pytest.raises(ValueError, match=rf"sample_kernels: per_layer={value!r}: must be True or False"):
        _sample(x, per_layer=value)
    with pytest.raises(ValueError, match=rf"empirical_ntk: per_layer={value!r}: must be True or False"):
        empirical_ntk(weights, x, RELU, per_layer=value)
    with pytest.raises(ValueError, match=rf"limit_kernel: return_layers={value!r}: must be True or False"):
        limit_kernel(x, RELU, 3, return_layers=value)


def test_empirical_ntk_refuses_non_finite_weights_and_inputs(x, weights):
    bad = [w.at[2, 5].set(jnp.nan) if k == 1 else w for k, w in enumerate(weights)]
    with pytest.raises(ValueError, match=r"empirical_ntk: weights\[1\] has 1 non-finite value\(s\) \(first at \(2, 5"):
        empirical_ntk(bad, x, RELU)
    x_inf = x.copy()
    x_inf[3, 1] = -np.inf
    with pytest.raises(ValueError, match=r"empirical_ntk: x has 1 non-finite value\(s\) \(first at \(3, 1\): -inf\)"):
        empirical_ntk(weights, x_inf, RELU)
    with pytest.raises(ValueError, match=r"empirical_ntk: x=<complex array"):
        empirical_ntk(weights, x + 1j, RELU)
    with pytest.raises(ValueError, match=r"empirical_ntk: x=<array of shape \(0, 3\)>"):
        empirical_ntk(weights, np.zeros((0, 3)), RELU)
    with pytest.raises(ValueError, match=r"empirical_ntk: \|\|x\[0\]\|\|=.*e-30"):
        empirical_ntk(weights, x * 1e-30, RELU)
    ints = [jnp.ones(w.shape, jnp.int32) for w in weights]
    with pytest.raises(ValueError, match=r"empirical_ntk: weights\[0\] must be a real floating array, got dtype int32"):
        empirical_ntk(ints, x, RELU)


def test_empirical_ntk_is_unchanged_under_jit_and_grad(x, weights):
    # Traced values are not inspected (only shapes): jit and grad still work and agree with the eager call.
    eager = empirical_ntk(weights, x, RELU)
    jitted = jax.jit(lambda w, xx: empirical_ntk(w, xx, RELU))(weights, jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-6)  # fusion changes rounding
    grad = jax.grad(lambda w: empirical_ntk(w, x, RELU).sum())(weights)
    assert all(np.isfinite(np.asarray(g)).all() for g in grad)


@pytest.mark.parametrize(
    ("scale", "match"),
    [
        (1e200, r"\|\|X\[0\]\|\|=.*e\+200: 4 row norm\(s\) outside \[1\.2e-77, 1\.2e\+77\]"),
        (1e-200, r"\|\|X\[0\]\|\|=.*e-200: 4 row"),
    ],
)
def test_limit_kernel_refuses_inputs_whose_scale_leaves_float64(x, scale, match):
    with pytest.raises(ValueError, match=rf"^limit_kernel: {match}"):
        limit_kernel(x * scale, RELU, 3)


def test_limit_kernel_is_homogeneous_at_the_ends_of_its_range(x):
    # K_inf(c X) = c^2 K_inf(X), exactly up to rounding, for c a power of two inside the range.
    low, high = norm_range(np.float64)
    base = limit_kernel(x, RELU, 5)
    for c in (2.0**-240, 2.0**240):
        assert low < c * np.sqrt(3) < high
        np.testing.assert_allclose(limit_kernel(x * c, RELU, 5) / c**2, base, rtol=1e-13)


def test_depths_beyond_the_library_cap_are_refused_before_allocation(x):
    with pytest.raises(ValueError, match=r"widths: depth=1000000000: must be an integer with 1 <= value <= 1000000"):
        widths("quadratic", 8, 10**9, 3)
    with pytest.raises(ValueError, match=r"limit_kernel: depth=1000000000: must be an integer with 1 <= value"):
        limit_kernel(x, RELU, 10**9)
    with pytest.raises(ValueError, match=r"architecture: widths=<1000002 widths>: depth must be <= 1000000"):
        Architecture((3,) * 1_000_002, RELU)
    big = np.random.default_rng(0).standard_normal((2000, 3))
    with pytest.raises(ValueError, match=r"limit_kernel: depth=100000: return_layers keeps 3 l n\^2 float64 = 8940\.7"):
        limit_kernel(big, RELU, 10**5, return_layers=True)
