"""Test-side wrappers of the math package: the building blocks of a draw with their Gaussian blocks drawn
from a key, the angle form of one limit step and the Gaussian count of a draw, used only to test the
library's own functions."""

from __future__ import annotations

import jax
import numpy as np

from ntk_eoc.math.architecture import Architecture
from ntk_eoc.math.conditioning import (
    ConditionedMap,
    backward_noise_shape,
    condition_on_noise,
    delta_apply_from,
    noise_rows_from,
)
from ntk_eoc.math.cost import Method, gaussian_blocks
from ntk_eoc.math.limit import half_angle_step


def condition_on_inputs(key: jax.Array, b: jax.Array, fan_out: int) -> tuple[jax.Array, jax.Array, ConditionedMap]:
    """:func:`conditioning.condition_on_noise` with Z1 (n x m_out) drawn from ``key``."""
    return condition_on_noise(jax.random.normal(key, (b.shape[0], fan_out), b.dtype), b)


def noise_rows(key: jax.Array, fan_in: int, d: jax.Array, delta_gram: jax.Array) -> jax.Array:
    """:func:`conditioning.noise_rows_from` with its block drawn from ``key``."""
    shape = backward_noise_shape(fan_in, d.shape[1], d.shape[0])
    return noise_rows_from(jax.random.normal(key, shape, d.dtype), d, delta_gram)


def delta_apply(key: jax.Array, state: ConditionedMap, d: jax.Array, delta_gram: jax.Array) -> jax.Array:
    """:func:`conditioning.delta_apply_from` with the backward block drawn from ``key`` (the same block
    :func:`noise_rows` draws from that key)."""
    shape = backward_noise_shape(state.basis_t.shape[1], d.shape[1], d.shape[0])
    return delta_apply_from(jax.random.normal(key, shape, d.dtype), state, d, delta_gram)


def angle_step(angle: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t_{k+1}, 1 - rho_{k+1}, fdot(rho_k)) from t_k = arccos rho_k: :func:`limit.half_angle_step` on t_k."""
    sin_half, cos_half, one_minus_f, fdot = half_angle_step(np.sin(0.5 * angle), np.cos(0.5 * angle), delta)
    return 2.0 * np.arctan2(sin_half, cos_half), one_minus_f, fdot


def gaussians_per_draw(method: Method | str, arch: Architecture, n: int) -> int:
    """N(0, 1) numbers one draw generates: the sizes of :func:`cost.gaussian_blocks` summed."""
    return sum(rows * cols for rows, cols in gaussian_blocks(method, arch, n))
