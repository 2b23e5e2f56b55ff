"""The finite-width NTK of one network through per-map Gram products.   [SCIENCE §1, §2]

The network is a chain of linear maps (:mod:`architecture`): map j has input b_{j-1} (b_0 = x),
output z_j = s_j b_{j-1} W_j^T and b_j = phi(z_j) (or z_j for a linear map), N(x) = z_last. With
delta_j = dN/dz_j and kernel weight w_j (s_j^2 in the NTK parameterization, 1 in the standard one):

    K_theta(x, x')_{o,o'} = sum_j w_j <b_{j-1}(x), b_{j-1}(x')> <delta_j(x)_o, delta_j(x')_o'>

Layer k's kernel K_k sums its maps: c_k^2 <a_{k-1}, a_{k-1}'> <delta_k, delta_k'> for a dense EOC
layer, K_{V_k} + K_{U_k} for a factorized one. Exact, with no Jacobian: one forward pass, one
backward pass of the m_l output directions (delta_last = I, delta_{j-1} = s_j (delta_j W_j) * gate_{j-1},
gate = phi'(z) after a nonlinear map, 1 after a linear one) and two Gram products per map. Deltas are
stored as (n m_l, fan_out) matrices with rows in the point-major layout of :mod:`layout`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..validate import NonFinite, flag, input_points
from .architecture import ActivationLike, Architecture, LinearMap
from .layout import dataset_scale, expand_points

__all__ = ["architecture_of", "backward", "empirical_ntk", "forward", "layer_kernel", "sum_by_layer"]

Weights = Sequence[jax.Array | tuple[jax.Array, jax.Array]]


def forward(
    weights: Sequence[jax.Array], x: jax.Array, maps: Sequence[LinearMap], activation: ActivationLike
) -> tuple[list[jax.Array], list[jax.Array]]:
    """Outputs z_j (each (n, fan_out)) and inputs b_{j-1} of every map of the chain."""
    pre, inputs, b = [], [], x
    for w, m in zip(weights, maps, strict=True):
        inputs.append(b)
        z = m.scale * (b @ w.T)
        pre.append(z)
        b = activation.phi(z) if m.nonlinear else z
    return pre, inputs


def backward(
    weights: Sequence[jax.Array], pre: Sequence[jax.Array], maps: Sequence[LinearMap], activation: ActivationLike
) -> list[jax.Array]:
    """[D_1..D_J], D_j = delta_j stacked as (n m_l, fan_out_j): D_J = rows of I_{m_l}, then
    D_{j-1} = s_j (D_j W_j) * gate_{j-1} row-wise."""
    n, out_dim = pre[-1].shape
    deltas = [jnp.tile(jnp.eye(out_dim, dtype=pre[-1].dtype), (n, 1))]
    for j in range(len(weights) - 1, 0, -1):
        d = maps[j].scale * (deltas[-1] @ weights[j])
        if maps[j - 1].nonlinear:
            d = d * jnp.repeat(activation.dphi(pre[j - 1]), out_dim, axis=0)
        deltas.append(d)
    return deltas[::-1]


def layer_kernel(act_gram: jax.Array, delta_gram: jax.Array, weight: float) -> jax.Array:
    """(1/n) w <b(x_i), b(x_j)> <delta(x_i)_o, delta(x_j)_o'> in the (n m_l)^2 layout.

    Args:
        act_gram: (n, n) Gram matrix of the map's inputs.
        delta_gram: (n m_l, n m_l) Gram matrix of the rows of its delta.
        weight: kernel weight w (c_k^2 for a dense EOC layer).
    """
    n = act_gram.shape[0]
    out_dim = delta_gram.shape[0] // n
    return (weight * dataset_scale(n)) * expand_points(act_gram, out_dim) * delta_gram


def sum_by_layer(kernels: Sequence[jax.Array], layers: Sequence[int]) -> jax.Array:
    """(l, n m_l, n m_l): per-map kernels summed over the maps of each layer (``layers``: the layer
    1..l of each map, ascending; a factorized layer has two maps)."""
    out: list = [None] * layers[-1]
    for kernel, layer in zip(kernels, layers, strict=True):
        out[layer - 1] = kernel if out[layer - 1] is None else out[layer - 1] + kernel
    return jnp.stack(out)


def architecture_of(weights: Weights, in_dim: int, activation: ActivationLike, init: str) -> Architecture:
    """The :class:`Architecture` whose maps have the shapes of ``weights`` (W_k or (U_k, V_k) per layer)."""
    widths, ranks = [in_dim], []
    for k, w in enumerate(weights, start=1):
        if isinstance(w, tuple):
            u, v = w
            if v.shape[1] != widths[-1] or u.shape[1] != v.shape[0]:
                raise ValueError(
                    f"layer {k}: factors U {u.shape}, V {v.shape} do not chain "
                    f"(expected V: (r, {widths[-1]}), U: (m, r))"
                )
            widths.append(u.shape[0])
            ranks.append(v.shape[0])
        else:
            if w.shape[1] != widths[-1]:
                raise ValueError(f"weights[{k - 1}] has shape {w.shape}, expected (m_{k}, {widths[-1]})")
            widths.append(w.shape[0])
            ranks.append(None)
    return Architecture(tuple(widths), activation, tuple(ranks), init)


def empirical_ntk(
    weights: Weights, x: jax.Array, activation: ActivationLike, per_layer: bool = False, *, init: str = "eoc"
) -> jax.Array:
    """K(theta) = sum_k K_k(theta), the (n m_l, n m_l) NTK matrix of the network with ``weights``.

    Args:
        weights: per layer k, W_k of shape (m_k, m_{k-1}), or a pair (U_k, V_k) of shapes (m_k, r_k)
            and (r_k, m_{k-1}) for a factorized layer; N(0, 1) entries as drawn.
        x: (n, m_0) inputs.
        activation: the (a,b)-ReLU (sigma = sigma_EOC is applied in layers k >= 2) or an Elementwise one.
        per_layer: return the (l, n m_l, n m_l) stack of K_k instead of the sum.
        init: "eoc" or "standard" (:mod:`architecture`).

    Returns:
        float array in the dtype of the weights.
    """
    if isinstance(weights, (str, bytes)) or not len(weights):
        raise ValueError("empirical_ntk: weights must list one W_k or (U_k, V_k) per layer, got none")
    per_layer = flag("per_layer", per_layer, "empirical_ntk")
    first = weights[0][1] if isinstance(weights[0], tuple) else weights[0]
    if not _traced(weights, x):
        _check_concrete(weights, x, first.dtype)
    x = jnp.asarray(x, dtype=first.dtype)
    if x.ndim != 2 or x.shape[1] != first.shape[1]:
        raise ValueError(f"x must have shape (n, {first.shape[1]}), got {x.shape}")
    arch = architecture_of(weights, x.shape[1], activation, init)
    flat = [m for w in weights for m in ((w[1], w[0]) if isinstance(w, tuple) else (w,))]
    maps = arch.maps
    pre, inputs = forward(flat, x, maps, activation)
    deltas = backward(flat, pre, maps, activation)
    kernels = [layer_kernel(b @ b.T, d @ d.T, m.weight) for b, d, m in zip(inputs, deltas, maps, strict=True)]
    layers = sum_by_layer(kernels, [m.layer for m in maps])
    return layers if per_layer else jnp.sum(layers, axis=0)


def _traced(weights: Weights, x: jax.Array) -> bool:
    """True under jit/grad: the values are not known, only their shapes are checked."""
    leaves = jax.tree_util.tree_leaves([list(weights), x])
    return any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)


def _check_concrete(weights: Weights, x: jax.Array, dtype: np.dtype) -> None:
    """Real floating weights without NaN or inf, and inputs as :func:`~ntk_eoc.validate.input_points`
    accepts them in the weights' precision; one message naming the array."""
    where = "empirical_ntk"
    for k, w in enumerate(weights):
        parts = zip(w, (" (U)", " (V)"), strict=True) if isinstance(w, tuple) else [(w, "")]
        for part, name in parts:
            array = np.asarray(part)
            label = f"weights[{k}]{name}"
            if not np.issubdtype(array.dtype, np.floating):
                raise ValueError(f"{where}: {label} must be a real floating array, got dtype {array.dtype}")
            bad = ~np.isfinite(array)
            if bad.any():
                first = tuple(int(i) for i in np.argwhere(bad)[0])
                raise NonFinite(f"{where}: {label} has {int(bad.sum())} non-finite value(s) (first at {first})")
    input_points("x", x, where, dtype)
