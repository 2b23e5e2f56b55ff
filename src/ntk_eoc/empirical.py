"""The finite-width NTK of one network through per-layer Gram products.   [SCIENCE §1, §2]

    h_1 = c_1 W_1 x,   h_k = c_k W_k phi(h_{k-1}),   N(x) = h_l,
    c_1 = 1/sqrt(m_0),  c_k = sigma/sqrt(m_{k-1}),  a_0 = x,  a_k = phi(h_k),  delta_k = dN/dh_k

    K_theta(x, x')_{o,o'} = sum_k c_k^2 <a_{k-1}(x), a_{k-1}(x')> <delta_k(x)_o, delta_k(x')_o'>

Exact, with no Jacobian: one forward pass, one backward pass of the m_l output directions
(delta_l = I, delta_{k-1} = (delta_k c_k W_k) * phi'(h_{k-1})) and two Gram products per layer.
Deltas are stored as (n m_l, m_k) matrices with rows in the point-major layout of :mod:`layout`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from .activations import Activation
from .layout import dataset_scale, expand_points

__all__ = ["backward", "empirical_ntk", "forward", "layer_kernel", "layer_scales"]


def layer_scales(layer_widths: Sequence[int], activation: Activation) -> tuple[float, ...]:
    """(c_1, ..., c_l) with c_1 = 1/sqrt(m_0) and c_k = sigma/sqrt(m_{k-1}) for k >= 2."""
    return tuple(
        (1.0 if k == 0 else activation.sigma) / math.sqrt(layer_widths[k]) for k in range(len(layer_widths) - 1)
    )


def forward(
    weights: Sequence[jax.Array], x: jax.Array, activation: Activation
) -> tuple[list[jax.Array], list[jax.Array]]:
    """Pre-activations [h_1..h_l] (each (n, m_k)) and inputs of each layer [a_0..a_{l-1}]."""
    widths = [x.shape[1]] + [w.shape[0] for w in weights]
    scales = layer_scales(widths, activation)
    pre, post = [], [x]
    for k, (w, c) in enumerate(zip(weights, scales, strict=True)):
        h = c * (post[-1] @ w.T)
        pre.append(h)
        if k < len(weights) - 1:
            post.append(activation.phi(h))
    return pre, post


def backward(weights: Sequence[jax.Array], pre: Sequence[jax.Array], activation: Activation) -> list[jax.Array]:
    """[D_1..D_l], D_k = delta_k stacked as (n m_l, m_k): D_l = rows of I_{m_l}, then
    D_{k-1} = (D_k c_k W_k) * phi'(h_{k-1}) row-wise."""
    n, out_dim = pre[-1].shape
    deltas = [jnp.tile(jnp.eye(out_dim, dtype=pre[-1].dtype), (n, 1))]
    for k in range(len(weights) - 1, 0, -1):
        c = activation.sigma / math.sqrt(weights[k].shape[1])  # c_{k+1}, weights[k] = W_{k+1}
        gate = jnp.repeat(activation.dphi(pre[k - 1]), out_dim, axis=0)
        deltas.append(c * (deltas[-1] @ weights[k]) * gate)
    return deltas[::-1]


def layer_kernel(act_gram: jax.Array, delta_gram: jax.Array, scale: float) -> jax.Array:
    """(1/n) c_k^2 <a_{k-1}(x_i), a_{k-1}(x_j)> <delta_k(x_i)_o, delta_k(x_j)_o'> in the (n m_l)^2 layout.

    Args:
        act_gram: (n, n) Gram matrix of a_{k-1}.
        delta_gram: (n m_l, n m_l) Gram matrix of the rows of D_k.
        scale: c_k.
    """
    n = act_gram.shape[0]
    out_dim = delta_gram.shape[0] // n
    return (scale * scale * dataset_scale(n)) * expand_points(act_gram, out_dim) * delta_gram


def empirical_ntk(
    weights: Sequence[jax.Array], x: jax.Array, activation: Activation, per_layer: bool = False
) -> jax.Array:
    """K(theta) = sum_k K_k(theta), the (n m_l, n m_l) NTK matrix of the network with ``weights``.

    Args:
        weights: [W_1, ..., W_l], W_k of shape (m_k, m_{k-1}) with N(0, 1) entries as drawn.
        x: (n, m_0) inputs.
        activation: the (a,b)-ReLU (sigma = sigma_EOC is applied in layers k >= 2).
        per_layer: return the (l, n m_l, n m_l) stack of K_k instead of the sum.

    Returns:
        float array in the dtype of the weights.
    """
    x = jnp.asarray(x, dtype=weights[0].dtype)
    if x.ndim != 2 or x.shape[1] != weights[0].shape[1]:
        raise ValueError(f"x must have shape (n, {weights[0].shape[1]}), got {x.shape}")
    for k in range(1, len(weights)):
        if weights[k].shape[1] != weights[k - 1].shape[0]:
            raise ValueError(
                f"weights[{k}] has shape {weights[k].shape}, expected (m_{k + 1}, {weights[k - 1].shape[0]})"
            )
    pre, post = forward(weights, x, activation)
    deltas = backward(weights, pre, activation)
    widths = [x.shape[1]] + [w.shape[0] for w in weights]
    kernels = jnp.stack(
        [
            layer_kernel(a @ a.T, d @ d.T, c)
            for a, d, c in zip(post, deltas, layer_scales(widths, activation), strict=True)
        ]
    )
    return kernels if per_layer else jnp.sum(kernels, axis=0)
