"""The program of one draw of K(theta), from (draw key, x): explicit weights or Gaussian conditioning.

:mod:`samplers` compiles these and runs them over many draws (its module doc has the math, SCIENCE §5).

- :func:`_explicit_draw`: every W_k drawn, forward and backward passes (:mod:`empirical`).
- :func:`_conditioned_program`: the conditioned draw compiled once per :class:`_Skeleton` (the maps'
  shapes, routes and the activation's kind), with the (a, b) coefficients, scales and kernel weights as
  arguments, so relu, abs and any slope share one program. Each linear map of the chain (a dense W_k,
  or V_k and U_k of a factorized layer) is independent, so the conditioning argument applies map by map:
  conditioned maps and explicit ones mix freely. The backward pass carries D (n m_l x fan_out, rows
  point-major as in :func:`empirical.backward`): D W is :func:`conditioning.delta_apply_from` for a
  conditioned map, a matmul for an explicit one.
- :func:`_noise`: all Gaussian blocks of a draw from one N(0, 1) vector when small enough.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .activations import Activation, Elementwise, ab_dphi, ab_phi
from .architecture import Architecture
from .conditioning import backward_noise_shape, condition_on_noise, delta_apply_from, dot
from .empirical import backward, forward, layer_kernel, sum_by_layer
from .layout import dataset_scale, expand_points

# Gaussians per draw up to which they come from one generator call (see _noise): above it, separate calls
# per block are faster per draw; below it, the one call saves compilation (benchmarks/README.md, Constants).
FLAT_NOISE_MAX = 2**19


def _draw_key(base: jax.Array, draw: jax.Array) -> jax.Array:
    """fold_in(base, s): the key of draw s. The only place draw keys are made."""
    return jax.random.fold_in(base, draw)


def _explicit_draw(key: jax.Array, x: jax.Array, arch: Architecture) -> jax.Array:
    """Per-layer kernels (l, n m_l, n m_l) of one network with explicit N(0,1) weights."""
    maps = arch.maps
    weights = list(_noise(key, tuple((m.fan_out, m.fan_in) for m in maps), x.dtype))
    pre, inputs = forward(weights, x, maps, arch.activation)
    deltas = backward(weights, pre, maps, arch.activation)
    kernels = [layer_kernel(b @ b.T, d @ d.T, m.weight) for b, d, m in zip(inputs, deltas, maps, strict=True)]
    return sum_by_layer(kernels, [m.layer for m in maps])


def _noise_shapes_of(
    maps: Sequence[tuple[int, int, int, bool]], routes: Sequence[bool], n: int, out_dim: int
) -> tuple[tuple[int, int] | None, ...]:
    """Shapes of the Gaussian blocks of one conditioned draw, in the order they are cut from one normal
    vector: per map (layer, fan_in, fan_out, nonlinear) its forward block (Z1, n x m_out, when conditioned;
    W, m_out x m_in, when explicit), then per map its backward block
    (:func:`conditioning.backward_noise_shape`; None for an explicit map, whose W serves both passes, and
    for the first map, whose delta is never propagated)."""
    forward = [(n, m[2]) if c else (m[2], m[1]) for c, m in zip(routes, maps, strict=True)]
    backward = [
        backward_noise_shape(m[1], m[2], n * out_dim) if c and j > 0 else None
        for j, (c, m) in enumerate(zip(routes, maps, strict=True))
    ]
    return (*forward, *backward)


def _noise(key: jax.Array, shapes: tuple[tuple[int, int] | None, ...], dtype) -> tuple[jax.Array | None, ...]:
    """The N(0, 1) blocks of ``shapes`` (None: no block) drawn from ``key``. Up to :data:`FLAT_NOISE_MAX`
    numbers in all, one generator call whose output is cut into the blocks: each call site of the generator
    adds ~0.1-0.2 s of compilation whatever its size. Above it, one call per block from split keys, which
    runs faster there (the choice depends only on the shapes, so a draw's bits never depend on a batch or
    a job split)."""
    sizes = [0 if shape is None else shape[0] * shape[1] for shape in shapes]
    if sum(sizes) > FLAT_NOISE_MAX:
        keys = jax.random.split(key, len(shapes))
        return tuple(
            None if shape is None else jax.random.normal(k, shape, dtype) for k, shape in zip(keys, shapes, strict=True)
        )
    flat = jax.random.normal(key, (sum(sizes),), dtype)
    blocks, start = [], 0
    for shape, size in zip(shapes, sizes, strict=True):
        blocks.append(None if shape is None else flat[start : start + size].reshape(shape))
        start += size
    return tuple(blocks)


def _forward_map(noise: jax.Array, b: jax.Array, conditioned: bool) -> tuple[jax.Array, jax.Array, object]:
    """One map's B W^T, its input Gram (sampling dtype) and backward state: conditioned on B with Z1 =
    ``noise``, or with W = ``noise`` explicitly."""
    if conditioned:
        z, gram, state = condition_on_noise(noise, b)
        return z, gram.astype(b.dtype), state
    return dot(b, noise.T), dot(b, b.T), noise


class _Skeleton(NamedTuple):
    """What a conditioned draw's program is compiled for (static): per map (layer, fan_in, fan_out,
    nonlinear), the route of each map, the activation's kind (None: a s + b |s| with (a, b) an argument;
    else the :class:`Elementwise` itself) and m_l. Scales, kernel weights and (a, b) are arguments, so
    networks that differ only in them (relu and abs, leaky slopes) share one program."""

    maps: tuple[tuple[int, int, int, bool], ...]
    routes: tuple[bool, ...]
    act: Elementwise | None
    out_dim: int


def _skeleton(arch: Architecture, n: int, routes: Sequence[bool]) -> tuple[_Skeleton, tuple]:
    """(the static skeleton, the arguments (coeffs, scales, coefs)) of ``arch``'s conditioned draw on n
    points with the route of each map (True: conditioned); coefs are the kernel weights times 1/n
    (:func:`empirical.layer_kernel`), Python floats (cast to the sampling dtype when passed)."""
    maps = arch.maps
    act = None if isinstance(arch.activation, Activation) else arch.activation
    skeleton = _Skeleton(
        tuple((m.layer, m.fan_in, m.fan_out, m.nonlinear) for m in maps), tuple(map(bool, routes)), act,
        arch.widths[-1],
    )  # fmt: skip
    coeffs = (arch.activation.a, arch.activation.b) if act is None else ()
    return skeleton, (coeffs, tuple(m.scale for m in maps), tuple(m.weight * dataset_scale(n) for m in maps))


def _conditioned_kernels(key: jax.Array, x: jax.Array, params: tuple, skeleton: _Skeleton) -> jax.Array:
    """Per-layer kernels (l, n m_l, n m_l) of one conditioned draw from its skeleton and arguments
    (module doc)."""
    coeffs, scales, coefs = params
    maps, routes, act, out_dim = skeleton
    # phi, phi': a s + b |s| with traced (a, b) = coeffs (the definition Activation.phi uses), or Elementwise's
    if act is None:
        phi, dphi = functools.partial(ab_phi, *coeffs), functools.partial(ab_dphi, *coeffs)
    else:
        phi, dphi = act.phi, act.dphi
    n, n_maps = x.shape[0], len(maps)
    shapes = _noise_shapes_of(maps, routes, n, out_dim)
    noise = _noise(key, shapes, x.dtype)
    pre, states, grams, b = [], [], [], x
    for j, (_, _, _, nonlinear) in enumerate(maps):
        z, gram, state = _forward_map(noise[j], b, routes[j])
        z = scales[j] * z
        pre.append(z)
        states.append(state)
        grams.append(gram)
        b = phi(z) if nonlinear else z
    d = jnp.tile(jnp.eye(out_dim, dtype=x.dtype), (n, 1))
    kernels: list = [None] * n_maps
    for j in range(n_maps - 1, -1, -1):
        delta_gram = dot(d, d.T)
        kernels[j] = coefs[j] * expand_points(grams[j], out_dim) * delta_gram
        if j == 0:
            break
        d = delta_apply_from(noise[n_maps + j], states[j], d, delta_gram) if routes[j] else dot(d, states[j])
        d = scales[j] * d
        if maps[j - 1][3]:
            d = d * jnp.repeat(dphi(pre[j - 1]), out_dim, axis=0)
    return sum_by_layer(kernels, [layer for layer, *_ in maps])


@functools.partial(jax.jit, static_argnames=("skeleton", "per_layer"))
def _conditioned_program(base, draw_id, x, params, *, skeleton: _Skeleton, per_layer: bool) -> jax.Array:
    """The compiled conditioned draw: one program per (skeleton, n, dtype, per_layer), shared by every
    network with that skeleton (module doc)."""
    kernels = _conditioned_kernels(_draw_key(base, draw_id), x, params, skeleton)
    return kernels if per_layer else jnp.sum(kernels, axis=0)
