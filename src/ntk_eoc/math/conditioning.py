"""Gaussian conditioning of one linear map on its n inputs, through the n x n Gram matrix.   [SCIENCE §5]

A map of the chain (:mod:`architecture`) sends its inputs B (n x m_in, rows b(x_i)) to Z = s B W^T with
W (m_out x m_in) i.i.d. N(0, 1). Any R (n x n) with R^T R = G = B B^T gives Q = B^T R^+ whose nonzero
columns are orthonormal and span the rows of B, and

    W^T = Q Z1 + (I - Q Q^T) G',   Z1 = Q^T W^T (n x m_out, i.i.d. N(0,1)),   G' independent of Z1,

so B W^T = R^T Z1: the forward pass needs Z1 and R only. The map's delta rows D (n m_l x m_out) depend
on W only through Z1, so the backward pass is

    W^T D^T = Q (Z1 D^T) + (I - Q Q^T) Y = Y + Q (Z1 D^T - Q^T Y),
    Y = G' D^T  =  Z3 R_D in law   (Z3: m_in x n m_l i.i.d. N(0,1), R_D^T R_D = D D^T),

or Y = G' D^T with G' (m_in x m_out) drawn directly when m_out < n m_l. Only n x n (and n m_l x n m_l)
matrices are factorized; the wide arrays meet only matmuls: B B^T and B^T R^+ (float64), R^T Z1, Z1 D^T,
D D^T (the kernel needs it anyway), Z3 R_D, Q^T Y and Q (...). No Householder QR of the tall B^T.

Factorization (:func:`gram_factors`), in float64. In general, from the eigendecomposition
G = V diag(lam) V^T: R^T = V diag(sqrt(lam_+)) and R^+ = V diag(w), w_i = lam_i^{-1/2} for
lam_i > tau lam_max, else 0. When a Cholesky factorization G = L L^T certifies that every eigenvalue is
above the floor (lam_min >= 1/||L^{-1}||_F^2 > tau tr(G)), R^T = L and R^+ = L^{-T} instead: the same
Q up to a rotation of its columns (so the same law), at ~1/4 of the cost for n = 64; D D^T's root R_D
likewise (Cholesky when it succeeds, eigh otherwise).

G and Q = B^T R^+ are formed in float64 from the exact float64 values of B, then Q is rounded to the
sampling dtype. In float32, G would carry rounding ~eps32 ||G|| and Q = B^T R^+ would lose ~eps32 s_max/s_i
to cancellation in direction i (cond(B)^2 enters through G): every direction of B with singular value
s_i below ~sqrt(eps32) s_max would be wrong. The forward pass uses every direction (R^T R = G to rounding,
whatever the rank), so B W^T has its exact law. The backward pass inverts only the directions above
the floor tau (:data:`EIGEN_FLOOR`):

- a direction below it (a rank-deficient B: n > m_in, duplicate inputs, a point whose units are all
  dead) has ||B^T v_i|| = s_i ~ 0 and is treated as exactly 0: Q's column is 0, and W^T's component
  along it comes from G' instead of Z1. Exact when s_i = 0; otherwise the only error is the lost coupling
  between that component and H's component s_i z1_i, of relative size s_i / s_max <= sqrt(tau);
- a direction above it is inverted: G's float64 rounding moves it by ~eps64 lam_max / lam_i <= eps64/tau.

tau = eps64^(2/3) ~ 3.7e-11 balances the two: both errors stay below eps64^(1/3) ~ 6.1e-6, in one
direction of the m_in-dimensional space (a Gram matrix of the next layer sums m_in of them), and
vanish for B of full rank n with cond(B) << 1.6e5. A zero row of B (a point whose units are all dead)
gets an exactly zero row of B W^T, as explicit weights give: rounding noise from the null directions
there would decide the sign, hence phi'(0), downstream. A Householder QR of B^T in float32 has a subspace error
~eps32 cond(B) (1.2e-3 at cond(B) = 1e4), larger than this route's ~eps32 + eps64 cond(B)^2
(tests/unit/test_conditioning.py measures both).

The float64 factorization needs 64-bit JAX while the draw is traced: the sampler traces and runs its
draw under ``jax.enable_x64(True)``, a scoped setting; arrays of the sampling dtype keep their dtype.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "EIGEN_FLOOR",
    "ConditionedMap",
    "backward_noise_shape",
    "condition_on_noise",
    "delta_apply_from",
    "dot",
    "gram_factors",
    "noise_rows_from",
]

# The factorizations run in float64 (module doc).
FACTOR_DTYPE = jnp.float64
# tau: eigenvalues of G below tau lam_max are not inverted. eps64^(2/3) balances the float64 Gram's
# rounding (eps64 / tau) against the lost coupling of a dropped direction (sqrt(tau)) (module doc).
EIGEN_FLOOR = float(np.finfo(np.float64).eps) ** (2.0 / 3.0)
# Matmuls of the draw at full float32 precision (GPUs default to TF32 for float32 matmuls, ~1e-3 relative).
PRECISION = jax.lax.Precision.HIGHEST


def dot(a: jax.Array, b: jax.Array) -> jax.Array:
    """a @ b at full precision (:data:`PRECISION`)."""
    return jnp.matmul(a, b, precision=PRECISION)


def _require_x64() -> None:
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "conditioning: the n x n factorizations run in float64; trace the draw under jax.enable_x64(True)"
        )


def _eigh_factors(gram: jax.Array, floor: float) -> tuple[jax.Array, jax.Array]:
    """(R^T, R^+) = (V diag(sqrt(lam_+)), V diag(w)) from G = V diag(lam) V^T (:func:`gram_factors`)."""
    lam, vec = jnp.linalg.eigh(gram)
    lam = jnp.maximum(lam, 0.0)
    kept = lam > floor * jnp.max(lam)
    inv_sqrt = jnp.where(kept, 1.0 / jnp.sqrt(jnp.where(kept, lam, 1.0)), 0.0)
    return vec * jnp.sqrt(lam), vec * inv_sqrt


def _cholesky(gram: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(L, L^{-1}) with L L^T = G; NaN where G is not numerically positive definite."""
    lower = jnp.linalg.cholesky(gram)
    eye = jnp.eye(gram.shape[0], dtype=gram.dtype)
    return lower, jax.scipy.linalg.solve_triangular(lower, eye, lower=True)


def gram_factors(gram: jax.Array, floor: float | None = None) -> tuple[jax.Array, jax.Array]:
    """(R^T, R^+) of a PSD float64 Gram G, R^T R = G to rounding, R^+ the pseudo-inverse of R restricted
    to the eigenvalues of G above floor * lam_max (``floor`` defaults to :data:`EIGEN_FLOOR`):

    - Cholesky, R^T = L and R^+ = L^{-T}, when it certifies that no eigenvalue is below the floor:
      lam_min >= 1 / tr(G^{-1}) = 1 / ||L^{-1}||_F^2 > floor tr(G) >= floor lam_max (cond(G) below
      ~1 / (n^2 floor));
    - otherwise G = V diag(lam) V^T (eigh): R^T = V diag(sqrt(lam_+)), R^+ = V diag(w), w_i = lam_i^{-1/2}
      where lam_i > floor * lam_max, else 0.

    Both branches give the same Q = B^T R^+ up to a rotation of its columns, hence the same law; the
    Cholesky one costs ~1/5 of the eigh at n = 64. Both (n, n), float64. A zero G gives R^T = R^+ = 0."""
    floor = EIGEN_FLOOR if floor is None else floor
    lower, inv_lower = _cholesky(gram)
    certified = jnp.all(jnp.isfinite(inv_lower)) & (1.0 / jnp.sum(inv_lower**2) > floor * jnp.trace(gram))
    return jax.lax.cond(certified, lambda: (lower, inv_lower.T), lambda: _eigh_factors(gram, floor))


def gram_root(gram: jax.Array) -> jax.Array:
    """R^T with R^T R = G to rounding, any rank: the Cholesky factor L when G is numerically positive
    definite, else V diag(sqrt(lam_+)) from G = V diag(lam) V^T (eigh)."""
    lower = jnp.linalg.cholesky(gram)

    def eigh_root() -> jax.Array:
        lam, vec = jnp.linalg.eigh(gram)
        return vec * jnp.sqrt(jnp.maximum(lam, 0.0))

    return jax.lax.cond(jnp.all(jnp.isfinite(lower)), lambda: lower, eigh_root)


class ConditionedMap(NamedTuple):
    """What the backward pass of a conditioned map needs from its forward pass."""

    basis_t: jax.Array  # Q^T = R^+^T B (n, m_in), sampling dtype; zero rows for dropped directions
    z1: jax.Array  # Z1 (n, m_out), sampling dtype


def condition_on_noise(z1: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array, ConditionedMap]:
    """B W^T (n x m_out) in law, = R^T Z1 for the given Z1 ~ N(0,1)^{n x m_out}; the input Gram B B^T; and
    the state of the backward pass (module doc).

    Args:
        z1: Z1 (n, m_out), i.i.d. N(0, 1), in the sampling dtype.
        b: B (n, m_in), the map's inputs, in the sampling dtype.

    Returns:
        (R^T Z1, G = B B^T in float64, :class:`ConditionedMap`).
    """
    _require_x64()
    b64 = b.astype(FACTOR_DTYPE)
    gram = dot(b64, b64.T)
    root_t, inv_root = gram_factors(gram)
    basis_t = dot(inv_root.T, b64).astype(b.dtype)
    # A zero row of B (a point whose units are all dead) has b W^T = 0 exactly; R^T Z1 would give it
    # rounding noise from the null directions, whose sign decides phi'(0) downstream (ReLU: a, not 0 or 1).
    dead = jnp.all(b == 0, axis=1, keepdims=True)
    return jnp.where(dead, 0, dot(root_t.astype(b.dtype), z1)), gram, ConditionedMap(basis_t, z1)


def backward_noise_shape(fan_in: int, fan_out: int, rows: int) -> tuple[int, int]:
    """Shape of the Gaussian block of :func:`noise_rows_from`: G'^T's (m_out, m_in) when m_out < n m_l
    (``rows``), else Z3^T's (n m_l, m_in)."""
    return (fan_out, fan_in) if fan_out < rows else (rows, fan_in)


def noise_rows_from(noise: jax.Array, d: jax.Array, delta_gram: jax.Array) -> jax.Array:
    """Y^T = D G'^T (n m_l x m_in) in law from the block of :func:`backward_noise_shape`: D G'^T when it is
    G'^T (m_out x m_in, m_out < n m_l), else R_D^T Z3^T with R_D^T = :func:`gram_root` (D D^T) (columns
    i.i.d. N(0, D D^T))."""
    rows, fan_out = d.shape
    if fan_out < rows:
        return dot(d, noise)
    root_t = gram_root(delta_gram.astype(FACTOR_DTYPE))
    return dot(root_t.astype(d.dtype), noise)


def delta_apply_from(noise: jax.Array, state: ConditionedMap, d: jax.Array, delta_gram: jax.Array) -> jax.Array:
    """D W (n m_l x m_in) in law, given the forward pass's Z1: the transpose of (module doc)

        W^T D^T = Y + Q (Z1 D^T - Q^T Y),   Y^T = :func:`noise_rows_from` (noise).

    Args:
        noise: the map's backward block (:func:`backward_noise_shape`), independent of Z1.
        state: the map's :class:`ConditionedMap`.
        d: D (n m_l, m_out), the map's delta rows.
        delta_gram: D D^T (n m_l, n m_l).
    """
    basis_t, z1 = state
    y_t = noise_rows_from(noise, d, delta_gram)
    return y_t + dot((dot(z1, d.T) - dot(basis_t, y_t.T)).T, basis_t)
