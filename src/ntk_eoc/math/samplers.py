"""Many independent draws of K(theta): explicit weights or Gaussian conditioning.   [SCIENCE §5]

Both methods return per-layer kernels K_k (:func:`empirical.layer_kernel`) with the same law.

explicit
    Draw every W_k (m_k x m_{k-1}, N(0,1)), run :func:`empirical.forward`/:func:`empirical.backward`.
    Cost ~ sum_k m_k m_{k-1} (n + n m_l + Gaussian draws): quadratic in width.

conditioned
    K depends on W_k only through H = A W^T (A = a_{k-1} rows, n x m_{k-1}) and W^T D^T
    (D = delta_k rows, n m_l x m_k). With R^T R = A A^T (n x n) and Q = A^T R^+ (orthonormal columns
    spanning the rows of A),
        W^T = Q Z1 + (I - Q Q^T) G,   Z1 = Q^T W^T  (n x m_k, i.i.d. N(0,1)),  G independent,
    so H = R^T Z1. D depends on W_k only through Z1, so with R_D^T R_D = D D^T,
        W^T D^T = Y + Q (Z1 D^T - Q^T Y),   Y = G D^T = Z3 R_D in law  (Z3: m_{k-1} x n m_l, N(0,1)).
    Everything is drawn from n x m_k and m_{k-1} x n m_l Gaussian blocks: the same law as explicit
    weights at a cost linear in width, and no weight matrix is ever formed. Only the n x n Gram A A^T
    is factorized (float64 Cholesky, or eigh when A is ill-conditioned or rank-deficient), no tall QR:
    :mod:`conditioning` has the linear algebra, its accuracy and what happens for rank-deficient A
    (n > m_{k-1}, duplicate inputs, dead units).

Factorized layers (:mod:`architecture`): U_k and V_k are two independent Gaussian maps in the chain
(no activation between them), and the argument above uses nothing but the independence and Gaussianity
of one map given its inputs, so it applies to each factor as to a dense W_k: V_k is conditioned on
its n inputs a_{k-1}, U_k on its n inputs g_k = s_k V_k a_{k-1}, with the same law as explicit factors.

The route of each map (explicit or conditioned) is chosen by the cost model of :mod:`cost`.

Seeds: draw s uses key ``fold_in(key(seed), s)`` (:func:`draw_keys`), seed and s in [0, 2^32)
(:data:`ntk_eoc.validate.MAX_SEED`). A draw runs through the same jit-compiled executables whatever else is
sampled, so draw s
is bit-identical whatever subset, order, batch size or job split it is computed in, and whatever the
caller's x64 setting (same device, dtype, method and JAX version: the random bits and the LAPACK-style
factorizations may change between JAX releases, the law does not).

Compilation: a conditioned draw is one program per skeleton (:class:`draw_program._Skeleton`: the maps' shapes and
routes, the activation's kind); the (a, b) coefficients, scales and kernel weights are arguments, so relu,
abs and any leaky slope share a program (and, through JAX's persistent compilation cache, every job that
samples them). Each draw takes all its Gaussian blocks from one N(0, 1) vector (:func:`draw_program._noise`): every
call site of the generator adds ~0.1-0.2 s of compilation whatever its size, so a depth-8 draw compiles
in ~1 s instead of ~4 s. An explicit draw is one program per architecture.

Batches: draws are dispatched asynchronously in groups of :func:`cost.batch_size` draws, with a memory
budget of 256 MiB on the CPU and a quarter of the device's memory on an accelerator
(:func:`device_batch_budget`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from threadpoolctl import threadpool_limits

from ..validate import MAX_DRAW_ID, MAX_SEED, InvalidValue, choice, flag, input_points, integer
from .activations import Activation, Elementwise
from .architecture import Architecture, Init
from .cost import (
    BATCH_BYTES,
    DEFAULT_MAX_BYTES,
    MAX_BATCH,
    DType,
    Method,
    batch_size,
    choose_maps,
    draw_bytes,
    resolve_method,
)
from .draw_program import _conditioned_program, _draw_key, _explicit_draw, _skeleton

__all__ = ["DEFAULT_MAX_BYTES", "device_batch_budget", "draw_keys", "sample_kernels"]

log = logging.getLogger(__name__)

# On an accelerator, the draws in flight may use this fraction of the memory JAX's allocator may hold
# (memory_stats()["bytes_limit"]); the rest is left to the compiled program's temporaries and the caller.
DEVICE_BATCH_FRACTION = 0.25
# Draws in flight on an accelerator: enough to queue work while the host collects a batch.
DEVICE_MAX_BATCH = 256
# BLAS threads while draws run (see _dispatch).
BLAS_THREADS = 1


def device_batch_budget(device: jax.Device | None = None) -> tuple[int, int]:
    """(budget_bytes, max_batch) of :func:`cost.batch_size` for ``device`` (default: JAX's first device).

    CPU, or a device that reports no memory: the CPU defaults (256 MiB, 32 draws), so CPU batches and job
    splits do not depend on the machine. An accelerator reporting ``memory_stats()["bytes_limit"]`` (GPU,
    TPU): DEVICE_BATCH_FRACTION of it (at least the CPU budget) and up to DEVICE_MAX_BATCH draws."""
    device = jax.devices()[0] if device is None else device
    stats = None if device.platform == "cpu" else device.memory_stats()
    limit = (stats or {}).get("bytes_limit")
    if not limit:
        return BATCH_BYTES, MAX_BATCH
    return max(BATCH_BYTES, int(DEVICE_BATCH_FRACTION * limit)), DEVICE_MAX_BATCH


def draw_keys(seed: int, draws: Sequence[int] | np.ndarray) -> jax.Array:
    """Keys fold_in(key(seed), s) for each draw id s (the keys :func:`sample_kernels` uses)."""
    ids = jnp.asarray(np.asarray(draws, dtype=np.uint32))
    return jax.vmap(_draw_key, in_axes=(None, 0))(jax.random.key(seed), ids)


@functools.lru_cache(maxsize=64)
def _compiled_draw(
    method: str, arch: Architecture, per_layer: bool, n: int, dtype: str, routes: tuple[bool, ...]
) -> Callable:
    """One draw from (base key, draw id, x). Explicit: a jit of :func:`_explicit_draw` per architecture.
    Conditioned: :func:`_conditioned_program` with ``arch``'s skeleton on n points (its maps' ``routes``)
    and its arguments in ``dtype``.

    One set of executables serves every draw, so a draw's bits cannot depend on which other draws share
    its call; vmapping draws instead compiles ~2x slower and, on CPU, runs no faster at the widths
    where sampling costs anything. The draw is traced and run under a scoped ``jax.enable_x64(True)``
    (the caller's setting is untouched): the n x n factorizations of :mod:`conditioning` are float64,
    and the draw's bits do not depend on the caller's x64 setting. Matmuls run at full precision
    (``default_matmul_precision("highest")``: a no-op on CPU; on GPUs it rules out TF32)."""
    if method == "conditioned":
        skeleton, (coeffs, scales, coefs) = _skeleton(arch, n, routes)
        cast = functools.partial(np.asarray, dtype=dtype)
        params = (tuple(map(cast, coeffs)), tuple(map(cast, scales)), tuple(map(cast, coefs)))

        def steps(base: jax.Array, draw_id: np.uint32, x: jax.Array) -> jax.Array:
            return _conditioned_program(base, draw_id, x, params, skeleton=skeleton, per_layer=per_layer)
    else:
        draw = functools.partial(_explicit_draw, arch=arch)

        def run(base: jax.Array, draw_id: jax.Array, x: jax.Array) -> jax.Array:
            kernels = draw(_draw_key(base, draw_id), x)
            return kernels if per_layer else jnp.sum(kernels, axis=0)

        steps = jax.jit(run)

    def call(base: jax.Array, draw_id: np.uint32, x: jax.Array) -> jax.Array:
        with jax.enable_x64(True), jax.default_matmul_precision("highest"):
            return steps(base, draw_id, x)

    return call


def _architecture(network, widths, ranks, init) -> Architecture:
    """The Architecture of ``network`` (given directly, or an activation with widths, ranks, init)."""
    if isinstance(network, Architecture):
        if widths is not None or ranks is not None or Init(init) != Init.EOC:
            raise ValueError("sample_kernels: with an Architecture, leave widths, ranks and init at their defaults")
        return network
    if not isinstance(network, (Activation, Elementwise)):
        raise TypeError(
            f"sample_kernels: network must be an ntk_eoc.Activation, Elementwise or Architecture, got "
            f"{type(network).__name__}"
        )
    if widths is None or isinstance(widths, (str, bytes)):
        raise InvalidValue("widths", widths, "must be [m_0, ..., m_l] with all m_k >= 1", "sample_kernels")
    try:
        return Architecture(tuple(widths), network, None if ranks is None else tuple(ranks), init)
    except InvalidValue as err:
        if err.key.startswith("widths"):
            raise InvalidValue("widths", list(widths), str(err), "sample_kernels") from None
        raise ValueError(f"sample_kernels: {err}") from None


def _routes(routes: Sequence[bool] | None, method: Method, arch: Architecture, n: int) -> tuple[bool, ...]:
    """The route of each map: given (conditioned draws only), or the cost model's."""
    if routes is None:
        return tuple(choose_maps(arch, n)) if method == Method.CONDITIONED else (False,) * len(arch.maps)
    if method != Method.CONDITIONED:
        raise ValueError(f"sample_kernels: routes are for method='conditioned', got method={method!s}")
    if (
        isinstance(routes, (str, bytes))
        or len(routes) != len(arch.maps)
        or not all(isinstance(r, bool) for r in routes)
    ):
        raise InvalidValue("routes", routes, f"must be {len(arch.maps)} booleans, one per map", "sample_kernels")
    return tuple(bool(r) for r in routes)


def _validate(x, arch, draws, seed, method, dtype) -> tuple[np.ndarray, np.ndarray, Method, DType]:
    where = "sample_kernels"
    method, dtype = choice("method", method, Method, where), choice("dtype", dtype, DType, where)
    if dtype == DType.FLOAT64 and not jax.config.jax_enable_x64:
        raise ValueError(
            "sample_kernels: dtype='float64' needs 64-bit JAX; set JAX_ENABLE_X64=1 or call "
            "jax.config.update('jax_enable_x64', True) before sampling"
        )
    x = input_points("x", x, where, str(dtype))
    if x.shape[1] != arch.widths[0]:
        raise ValueError(f"sample_kernels: x must have shape (n, m_0={arch.widths[0]}), got {x.shape}")
    integer("seed", seed, minimum=0, maximum=MAX_SEED, where=where)  # the weights: key(seed) of every draw
    if draws is None:
        raise InvalidValue("draws", draws, "required: a 1-d sequence of draw ids", where)
    ids = np.asarray(draws)
    integral = ids.ndim == 1 and (ids.size == 0 or np.issubdtype(ids.dtype, np.integer))
    if not integral or (ids.size and (ids.min() < 0 or ids.max() > MAX_DRAW_ID)):
        raise ValueError(f"sample_kernels: draws must be a 1-d sequence of integers in [0, 2^32), got draws={draws!r}")
    return x, ids.astype(np.int64), method, dtype


def _dispatch(
    run: Callable,
    base: jax.Array,
    x: jax.Array,
    ids: np.ndarray,
    batch: int,
    out: np.ndarray,
    where: str,
    progress: Callable[[int, int, float], None] | None,
) -> None:
    """out[i] = run(base, ids[i], x), dispatched asynchronously ``batch`` draws at a time; each group is
    collected and checked for NaN/inf before the next is dispatched.

    The draws' LAPACK calls (the n x n factorizations; jaxlib takes them from scipy's OpenBLAS) run with
    one BLAS thread (threadpoolctl, restored on return): at these sizes a second thread gains nothing on a
    quiet machine, and on a busy one OpenBLAS threads wait on each other (benchmarks/README.md, Constants)."""
    start_time = time.perf_counter()
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        for start in range(0, ids.size, batch):
            stop = min(ids.size, start + batch)
            pending = [run(base, np.uint32(s), x) for s in ids[start:stop]]  # dispatched asynchronously
            values = np.stack([np.asarray(p) for p in pending])
            bad = ~np.isfinite(values).reshape(stop - start, -1).all(axis=1)
            if bad.any():
                raise FloatingPointError(
                    f"sample_kernels: non-finite kernel for draw(s) {ids[start:stop][bad].tolist()} ({where})"
                )
            out[start:stop] = values
            if progress is not None:
                progress(stop, ids.size, time.perf_counter() - start_time)


def sample_kernels(
    x: np.ndarray,
    network: Activation | Elementwise | Architecture,
    widths: Sequence[int] | None = None,
    draws: Sequence[int] | None = None,
    seed: int | None = None,
    method: Method | str = Method.AUTO,
    dtype: DType | str = DType.FLOAT32,
    *,
    ranks: Sequence[int | None] | None = None,
    init: Init | str = Init.EOC,
    per_layer: bool = False,
    routes: Sequence[bool] | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    progress: Callable[[int, int, float], None] | None = None,
) -> np.ndarray:
    """K(theta_s) for each draw id s in ``draws``, theta_s drawn with key fold_in(key(seed), s).

    Args:
        x: (n, m_0) inputs.
        network: an :class:`Architecture`, or its activation: the (a,b)-ReLU (at the EOC with init="eoc")
            or an :class:`Elementwise` one, with ``widths`` (and ``ranks``, ``init``).
        widths: [m_0, ..., m_l] (see :func:`schedules.widths`); None with an Architecture.
        draws: draw ids (any subset, any order; duplicates allowed); required.
        seed: base seed of the configuration, in [0, 2^32); required.
        method: "explicit", "conditioned" or "auto" (:func:`~ntk_eoc.math.cost.choose_method`).
        dtype: "float32" (default) or "float64" (needs jax_enable_x64).
        ranks: per layer, the inner rank of a factorized layer U_k V_k or None (dense); None: all dense.
        init: "eoc" (NTK parameterization) or "standard" (:mod:`architecture`).
        per_layer: return the per-layer kernels K_k, shape (draws, l, n m_l, n m_l), whose sum is K.
        routes: with method "conditioned", per linear map of the chain (``arch.maps``) True to condition it,
            False to draw it explicitly; None: the cost model's choice (:func:`~ntk_eoc.math.cost.choose_maps`).
        max_bytes: refuse a configuration whose one draw needs more (:func:`draw_bytes`); None: no limit.
        progress: called as progress(done, total, seconds) after each group of draws.

    Returns:
        (len(draws), n m_l, n m_l) array of ``dtype`` (host memory).

    Raises:
        ValueError: bad input, before any compute. FloatingPointError: a draw produced NaN or inf.
    """
    arch = _architecture(network, widths, ranks, init)
    x, ids, method, dtype = _validate(x, arch, draws, seed, method, dtype)
    per_layer = flag("per_layer", per_layer, "sample_kernels")
    widths = arch.widths
    n, out_dim, depth = x.shape[0], widths[-1], arch.depth
    method = resolve_method(method, arch, n)
    routes = _routes(routes, method, arch, n)
    itemsize = dtype.itemsize
    need = draw_bytes(method, arch, n, itemsize, per_layer)
    if max_bytes is not None and need > max_bytes:
        raise ValueError(
            f"sample_kernels: one {method} draw with widths={list(widths)}, n={n}, dtype={dtype} needs "
            f"~{need / 2**30:.2f} GiB, over max_bytes={max_bytes} ({max_bytes / 2**30:.2f} GiB)"
        )
    budget, max_batch = device_batch_budget()
    batch = batch_size(method, arch, n, itemsize, per_layer, budget_bytes=budget, max_batch=max_batch)
    shape = (ids.size, depth) if per_layer else (ids.size,)
    out = np.empty((*shape, n * out_dim, n * out_dim), dtype=str(dtype))
    run = _compiled_draw(str(method), arch, per_layer, n, str(dtype), routes)
    where = f"method={method!s}, widths={list(widths)}, dtype={dtype!s}"
    _dispatch(run, jax.random.key(seed), jnp.asarray(x, dtype=str(dtype)), ids, batch, out, where, progress)
    return out
