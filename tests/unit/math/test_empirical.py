"""The Gram-product NTK of one network against the NTK from automatic differentiation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_eoc import Activation, empirical_ntk

# (a, b) with a < 0, a = 0 (abs), ReLU and a b < 0 member.
ACTIVATIONS = [Activation(-0.3, 0.8), Activation.named("abs"), Activation.named("relu"), Activation(0.7, -0.4)]
# Hidden widths of the depth-l networks (m_1..m_{l-1}); 2 is narrower than the n = 4 points.
HIDDEN = [7, 2, 6, 5]
INPUT_DIM, N_POINTS = 5, 4


def network(weights: list[jax.Array], x: jax.Array, a: float, b: float) -> jax.Array:
    """N(x) of SCIENCE.md §1, written out: h_1 = W_1 x / sqrt(m_0),
    h_k = sigma W_k phi(h_{k-1}) / sqrt(m_{k-1}), sigma^2 = 1 / (a^2 + b^2), no output activation.
    Rows of x are points; returns (n, m_l)."""
    sigma = 1.0 / jnp.sqrt(a * a + b * b)
    h = x @ weights[0].T / jnp.sqrt(x.shape[1])
    for w in weights[1:]:
        phi = a * h + b * jnp.abs(h)
        h = sigma * phi @ w.T / jnp.sqrt(h.shape[1])
    return h


_jacobian = jax.jit(jax.jacrev(network))


def autodiff_ntk(weights: list[jax.Array], x: jax.Array, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """(total, per layer) NTK matrices [(1/n) sum_w dN_o(x_i)/dw dN_o'(x_j)/dw] from jax.jacrev."""
    jac = _jacobian(weights, x, jnp.float64(a), jnp.float64(b))  # per layer: (n, m_l, m_k, m_{k-1})
    n, out_dim = x.shape[0], weights[-1].shape[0]
    per_layer = []
    for j in jac:
        flat = np.asarray(j).reshape(n * out_dim, -1)  # rows (i, o) point-major
        per_layer.append(flat @ flat.T / n)
    return sum(per_layer), np.stack(per_layer)


def draw_weights(layer_widths: list[int], seed: int) -> list[jax.Array]:
    rng = np.random.default_rng(seed)
    return [
        jnp.asarray(rng.standard_normal((layer_widths[k], layer_widths[k - 1])), dtype=jnp.float64)
        for k in range(1, len(layer_widths))
    ]


@pytest.mark.parametrize("output_dim", [1, 3])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_empirical_ntk_equals_the_autodiff_ntk(sphere, tol, seed, depth, output_dim):
    x = jnp.asarray(sphere(N_POINTS, INPUT_DIM))
    layer_widths = [INPUT_DIM, *HIDDEN[: depth - 1], output_dim]
    t = tol["autodiff"]
    for index, act in enumerate(ACTIVATIONS):
        weights = draw_weights(layer_widths, seed + 100 * depth + 10 * output_dim + index)
        expected, expected_layers = autodiff_ntk(weights, x, act.a, act.b)
        assert expected.shape == (N_POINTS * output_dim,) * 2
        np.testing.assert_allclose(np.asarray(empirical_ntk(weights, x, act)), expected, rtol=t.rtol, atol=t.atol)
        layers = np.asarray(empirical_ntk(weights, x, act, per_layer=True))
        np.testing.assert_allclose(layers, expected_layers, rtol=t.rtol, atol=t.atol)


@pytest.mark.parametrize("output_dim", [1, 3])
def test_per_layer_kernels_sum_to_the_total(sphere, tol, seed, output_dim):
    x = jnp.asarray(sphere(N_POINTS, INPUT_DIM))
    weights = draw_weights([INPUT_DIM, *HIDDEN, output_dim], seed)
    act = ACTIVATIONS[0]
    total = np.asarray(empirical_ntk(weights, x, act))
    layers = np.asarray(empirical_ntk(weights, x, act, per_layer=True))
    assert layers.shape == (len(HIDDEN) + 1, N_POINTS * output_dim, N_POINTS * output_dim)
    t = tol["float64_sum"]
    np.testing.assert_allclose(layers.sum(axis=0), total, rtol=t.rtol, atol=t.atol)


def test_empirical_ntk_keeps_the_dtype_of_the_weights(sphere, seed):
    x = sphere(N_POINTS, INPUT_DIM)
    weights = [w.astype(jnp.float32) for w in draw_weights([INPUT_DIM, 6, 2], seed)]
    assert empirical_ntk(weights, x, ACTIVATIONS[1]).dtype == jnp.float32


def test_inputs_of_the_wrong_width_raise(sphere, seed):
    weights = draw_weights([INPUT_DIM, 6, 1], seed)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 5\), got \(4, 3\)"):
        empirical_ntk(weights, sphere(N_POINTS, 3), ACTIVATIONS[1])


def test_mismatched_weight_shapes_raise(sphere, seed):
    weights = draw_weights([INPUT_DIM, 6, 1], seed)
    weights[1] = jnp.ones((1, 4))
    with pytest.raises(ValueError, match=r"weights\[1\] has shape \(1, 4\), expected \(m_2, 6\)"):
        empirical_ntk(weights, sphere(N_POINTS, INPUT_DIM), ACTIVATIONS[1])
