"""The linear algebra of the conditioned draw (ntk_eoc.math.conditioning), checked against exact float64
references computed with numpy from the same (float32) inputs: the Gram factors, the orthonormal basis
Q = B^T R^+, the projection (I - Q Q^T) Y against a Householder QR of B^T, and the identity B Q Z1 = R^T Z1
that ties the forward and backward passes together. Ill-conditioned and rank-deficient inputs included.
Agreement in law of the whole draw is in tests/statistical/test_sampler_law.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from math_helpers import condition_on_inputs, delta_apply, noise_rows

from ntk_eoc.math import conditioning

N_POINTS, FAN_IN, FAN_OUT, DELTA_ROWS = 16, 200, 300, 16
EPS32 = float(np.finfo(np.float32).eps)
# Gram route against the exact projection: Q is float64-accurate, then rounded to float32 (orthonormal
# to ~eps32), and (I - Q Q^T) Y takes two float32 matmuls over m_in = 200 terms: a few eps32 normwise
# (observed <= 0.7 eps32 for cond(B) <= 1e5).
GRAM_RTOL = 16 * EPS32
# Householder QR of B^T in float32: backward stable, so its span moves by ~eps32 cond(B) (observed
# 0.15-0.6 eps32 (1 + cond)).
QR_RTOL_PER_COND = 4 * EPS32


def _conditioned_inputs(cond: float, seed: int) -> np.ndarray:
    """B (n x m_in) in float32 with singular values log-spaced from 1 to 1/cond (cond(B) = cond to
    ~eps32 cond)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((N_POINTS, N_POINTS)))
    v, _ = np.linalg.qr(rng.standard_normal((FAN_IN, N_POINTS)))
    s = np.logspace(0.0, -np.log10(cond), N_POINTS)
    return ((u * s) @ v.T).astype(np.float32)


def _condition(b: np.ndarray, key_seed: int = 0):
    """(H, G, state) of ``condition_on_inputs``, jit-compiled."""
    run = jax.jit(condition_on_inputs, static_argnums=2)
    return run(jax.random.key(key_seed), jnp.asarray(b), FAN_OUT)


def _exact_projector(b: np.ndarray) -> np.ndarray:
    """P = B^+ B, the orthogonal projector onto the row span of B, in float64 (SVD of the exact values)."""
    b64 = np.asarray(b, dtype=np.float64)
    return np.linalg.pinv(b64) @ b64


def _relative(a: np.ndarray, ref: np.ndarray, scale: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - ref) / np.linalg.norm(scale))


@pytest.mark.parametrize("cond", [1.0, 1e2, 1e3, 1e4])
def test_gram_route_projection_is_exact_to_float32_and_agrees_with_householder_qr(cond, seed):
    b = _conditioned_inputs(cond, seed)
    _, _, state = _condition(b)
    y = np.random.default_rng(seed + 1).standard_normal((FAN_IN, DELTA_ROWS)).astype(np.float32)
    exact = y - _exact_projector(b) @ y
    gram = jax.jit(lambda q_t, y: y - conditioning.dot(q_t.T, conditioning.dot(q_t, y)))(state.basis_t, jnp.asarray(y))
    q_qr, _ = jnp.linalg.qr(jnp.asarray(b).T)
    householder = jax.jit(lambda q, y: y - q @ (q.T @ y))(q_qr, jnp.asarray(y))
    gram_error, qr_error = _relative(gram, exact, y), _relative(householder, exact, y)
    assert gram_error <= GRAM_RTOL, f"Gram route: {gram_error:.2e} > {GRAM_RTOL:.2e}"
    assert qr_error <= QR_RTOL_PER_COND * (1.0 + cond), f"QR route: {qr_error:.2e}"
    np.testing.assert_allclose(gram, householder, rtol=0, atol=(GRAM_RTOL + QR_RTOL_PER_COND * (1.0 + cond)) * 4.0)


@pytest.mark.parametrize("cond", [1.0, 1e4])
def test_gram_factors_give_a_root_of_the_gram_and_an_orthonormal_basis(cond, seed):
    b = _conditioned_inputs(cond, seed)
    b64 = b.astype(np.float64)
    root_t, inv_root = jax.jit(conditioning.gram_factors)(jnp.asarray(b64 @ b64.T))
    gram = b64 @ b64.T
    # float64 eigh: R^T R = G to ~n eps64 ||G||.
    np.testing.assert_allclose(np.asarray(root_t) @ np.asarray(root_t).T, gram, rtol=0, atol=1e-13 * np.abs(gram).max())
    q = b64.T @ np.asarray(inv_root)
    # Full rank, cond(B) <= 1e4: every direction is inverted; G's rounding moves them by ~eps64 cond^2.
    np.testing.assert_allclose(q.T @ q, np.eye(N_POINTS), rtol=0, atol=1e-7)


@pytest.mark.parametrize(("cond", "cholesky"), [(1.0, True), (1e4, True), (1e7, False)])
def test_gram_factors_use_cholesky_only_where_it_certifies_every_direction(cond, cholesky, seed):
    """Cholesky (R^T = L, lower triangular) when 1 / tr(G^{-1}) > tau tr(G) proves lam_min > tau lam_max;
    cond(B) = 1e4 (cond(G) = 1e8) passes, cond(B) = 1e7 has directions below the floor and takes eigh."""
    b64 = _conditioned_inputs(cond, seed).astype(np.float64)
    root_t, _ = jax.jit(conditioning.gram_factors)(jnp.asarray(b64 @ b64.T))
    assert np.array_equal(np.asarray(root_t) == 0, np.triu(np.ones((N_POINTS, N_POINTS)), 1) == 1) == cholesky


@pytest.mark.parametrize("case", ["positive-definite", "singular"])
def test_gram_root_is_a_root_of_any_psd_gram(case, seed):
    """Cholesky when G is numerically positive definite, eigh otherwise (duplicate rows: singular)."""
    b = np.random.default_rng(seed).standard_normal((N_POINTS, FAN_IN))
    if case == "singular":
        b[1] = b[0]
    gram = b @ b.T
    root_t = np.asarray(jax.jit(conditioning.gram_root)(jnp.asarray(gram)))
    assert np.all(np.isfinite(root_t))
    # float64 factorizations: R^T R = G to ~n eps64 ||G||.
    np.testing.assert_allclose(root_t @ root_t.T, gram, rtol=0, atol=1e-13 * np.abs(gram).max())


def test_forward_and_backward_share_z1_so_b_times_q_z1_is_the_forward_output(seed):
    """W^T = Q Z1 + (I - Q Q^T) G' must reproduce the forward output: B W^T = B Q Z1 = R^T Z1 = H."""
    b = _conditioned_inputs(1e3, seed)
    h, gram, state = _condition(b)
    implied = b.astype(np.float64) @ np.asarray(state.basis_t.T, np.float64) @ np.asarray(state.z1, np.float64)
    scale = np.linalg.norm(b, 2) * np.linalg.norm(state.z1)
    # float32 rounding of Q and of R^T Z1: a few eps32 of ||B|| ||Z1||.
    assert _relative(h, implied, scale) <= 8 * EPS32
    want = b.astype(np.float64) @ b.T.astype(np.float64)
    # Both are float64 sums of m_in = 200 exact products, in different orders: ~m_in eps64 max|G|.
    np.testing.assert_allclose(gram, want, rtol=0, atol=FAN_IN * 2.3e-16 * np.abs(want).max())


def test_directions_below_the_floor_are_dropped_with_an_error_below_its_square_root(seed):
    """cond(B) = 1e7: the four smallest singular values (<= 2.5e-6, below sqrt(tau) ~ 6.1e-6; the next
    is 7.4e-6) are not inverted; B Q Z1 then misses H's component along them, of relative size <= sqrt(tau)."""
    b = _conditioned_inputs(1e7, seed)
    h, _, state = _condition(b)
    q = np.asarray(state.basis_t.T, np.float64)
    kept = np.linalg.norm(q, axis=0) > 0.5
    assert kept.sum() == N_POINTS - 4
    # A kept direction just above the floor moves by ~eps64 / tau = sqrt(tau) (module doc of conditioning).
    bound = np.sqrt(conditioning.EIGEN_FLOOR)
    np.testing.assert_allclose(q[:, kept].T @ q[:, kept], np.eye(kept.sum()), rtol=0, atol=2 * bound)
    np.testing.assert_array_equal(q[:, ~kept], 0.0)
    implied = b.astype(np.float64) @ q @ np.asarray(state.z1, np.float64)
    assert _relative(h, implied, np.linalg.norm(b, 2) * np.linalg.norm(state.z1)) <= bound


def _rank_deficient_inputs(case: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if case == "n>m_in":  # 16 points in 10 dimensions: rank 10
        return rng.standard_normal((N_POINTS, 10)).astype(np.float32)
    b = np.abs(rng.standard_normal((N_POINTS, FAN_IN))).astype(np.float32)
    b[3] = b[7]  # duplicate input
    b[5] = b[11] = b[12]
    b[9] = 0.0  # a point whose units are all dead (ReLU)
    return b


@pytest.mark.parametrize("case", ["n>m_in", "duplicates-and-dead-units"])
def test_rank_deficient_inputs_give_a_partial_isometry_onto_the_row_span(case, seed):
    b = _rank_deficient_inputs(case, seed)
    rank = np.linalg.matrix_rank(b.astype(np.float64))
    h, _, state = _condition(b)
    q = np.asarray(state.basis_t.T, np.float64)
    kept = np.linalg.norm(q, axis=0) > 0.5
    assert kept.sum() == rank
    # float32 rounding of an exactly orthonormal float64 Q (dropped directions have s_i = 0 up to eps64).
    np.testing.assert_allclose(q[:, kept].T @ q[:, kept], np.eye(rank), rtol=0, atol=1e-6)
    np.testing.assert_allclose(q @ q.T, _exact_projector(b), rtol=0, atol=1e-6)
    implied = b.astype(np.float64) @ q @ np.asarray(state.z1, np.float64)
    assert _relative(h, implied, np.linalg.norm(b, 2) * np.linalg.norm(state.z1)) <= 8 * EPS32


def test_delta_apply_is_the_projection_formula(seed):
    """D W = Y^T + (Z1 D^T - Q^T Y)^T Q^T with the Y^T that noise_rows draws from the same key."""
    b = _conditioned_inputs(10.0, seed)
    _, _, state = _condition(b)
    rng = np.random.default_rng(seed + 2)
    for rows in (DELTA_ROWS, FAN_OUT + 1):  # Y = Z3 R_D, and Y = G' D^T drawn directly (m_out < n m_l)
        d = jnp.asarray(rng.standard_normal((rows, FAN_OUT)), jnp.float32)
        delta_gram = conditioning.dot(d, d.T)
        key = jax.random.key(seed)
        got = jax.jit(delta_apply)(key, state, d, delta_gram)
        y_t = np.asarray(jax.jit(noise_rows, static_argnums=1)(key, FAN_IN, d, delta_gram), np.float64)
        q_t, z1 = (np.asarray(a, np.float64) for a in state)
        want = y_t + (z1 @ np.asarray(d, np.float64).T - q_t @ y_t.T).T @ q_t
        # Three float32 matmuls with inner dimensions <= m_out = 300.
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_noise_rows_have_the_covariance_of_the_delta_gram(seed):
    """Y^T = R_D^T Z3^T: its m_in columns are i.i.d. N(0, D D^T); a Monte Carlo estimate of D D^T from
    them has relative error ~sqrt(2 / m_in) per entry (m_in = 20000 here: tolerance 6 standard errors)."""
    rng = np.random.default_rng(seed + 3)
    d = jnp.asarray(rng.standard_normal((DELTA_ROWS, FAN_OUT)) / np.sqrt(FAN_OUT), jnp.float32)
    delta_gram = conditioning.dot(d, d.T)
    fan_in = 20000
    y_t = np.asarray(jax.jit(noise_rows, static_argnums=1)(jax.random.key(seed), fan_in, d, delta_gram))
    want = np.asarray(delta_gram, np.float64)
    scale = np.sqrt(np.outer(np.diag(want), np.diag(want)))  # sd of a product entry ~ sqrt(G_ii G_jj)
    np.testing.assert_allclose(y_t @ y_t.T / fan_in, want, rtol=0, atol=6 * np.sqrt(2 / fan_in) * scale.max())


def test_the_factorizations_refuse_to_run_without_64_bit_jax(seed):
    with jax.enable_x64(False), pytest.raises(RuntimeError, match=r"jax.enable_x64"):
        condition_on_inputs(jax.random.key(0), jnp.ones((4, 8), jnp.float32), 3)


def test_a_zero_row_of_the_inputs_gives_an_exactly_zero_output_row(seed):
    """A point whose units are all dead: b W^T = 0 exactly, as with explicit weights (not rounding noise
    whose sign would decide phi'(0) downstream)."""
    b = _conditioned_inputs(10.0, seed)
    b[2] = 0.0
    with jax.enable_x64(True):
        h, _, _ = _condition(b, seed)
    h = np.asarray(h)
    assert np.all(h[2] == 0.0) and np.all(np.abs(np.delete(h, 2, axis=0)).max(axis=1) > 0)
