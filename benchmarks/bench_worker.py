"""The ntk-eoc side of bench_samplers.py: one (method, m) configuration timed in a fresh process.

Run as ``python bench_worker.py '[method, m, repeats, budget, seed]'``; prints one ``RESULT {json}``
line. JAX_PLATFORMS (set by bench_samplers.py --device) picks the device. See bench_samplers.py.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time

N_POINTS = 64
INPUT_DIM = 16
DEPTH = 4
OUTPUT_DIM = 1
SCHEDULE = "quadratic"
# Untimed calls before the timed ones (the first compiles); neural-tangents gets as many (bench_nt.py:
# one compiling call and two probe calls of its fastest implementation).
WARMUP_CALLS = 3
_MIB = 2**20


def layer_widths(m: int) -> list[int]:
    import ntk_eoc

    return ntk_eoc.widths(SCHEDULE, m, DEPTH, INPUT_DIM, OUTPUT_DIM)


def n_params(widths: list[int]) -> int:
    return sum(a * b for a, b in itertools.pairwise(widths))


def _architecture(widths: list[int]):
    from ntk_eoc import Activation
    from ntk_eoc.math.architecture import Architecture

    return Architecture(tuple(widths), Activation.named("relu"))


def draws_per_call(method: str, widths: list[int]) -> int:
    """Draws per timed call: the sampler's own batch size on JAX's default device, 1 for the baseline."""
    if method == "jacobian":
        return 1
    from ntk_eoc.math import cost
    from ntk_eoc.math.samplers import device_batch_budget

    budget, max_batch = device_batch_budget()
    return cost.batch_size(method, _architecture(widths), N_POINTS, 4, budget_bytes=budget, max_batch=max_batch)


def gaussian_blocks(method: str, widths: list[int]) -> list[tuple[int, int]]:
    """Shapes of the N(0,1) blocks one draw generates: cost.gaussian_blocks, the weights for the baseline."""
    if method == "jacobian":
        return [(b, a) for a, b in itertools.pairwise(widths)]
    from ntk_eoc.math import cost

    return list(cost.gaussian_blocks(method, _architecture(widths), N_POINTS))


def gaussians(method: str, widths: list[int]) -> int:
    """N(0,1) numbers one draw generates."""
    return sum(rows * cols for rows, cols in gaussian_blocks(method, widths))


def model_bytes(method: str, widths: list[int]) -> int:
    """B x cost.draw_bytes: the memory model's estimate of one call (0 for the baseline)."""
    if method == "jacobian":
        return 0
    from ntk_eoc.math import cost

    return draws_per_call(method, widths) * cost.draw_bytes(method, _architecture(widths), N_POINTS, 4)


def sphere_points(n: int, dim: int, seed: int = 0):
    """n points uniform on the sphere of radius sqrt(dim) (float64 numpy)."""
    import numpy as np

    z = np.random.default_rng(seed).standard_normal((n, dim))
    return z * (math.sqrt(dim) / np.linalg.norm(z, axis=1, keepdims=True))


# ----------------------------------------------------------------------------------------------
# The hand-written baseline
# ----------------------------------------------------------------------------------------------


def jacobian_sampler(widths: list[int], a: float, b: float, sigma: float):
    """jit-compiled draw(key, x) -> K, the (n m_l, n m_l) NTK of one network, via jax.jacrev."""
    import jax
    import jax.numpy as jnp

    depth = len(widths) - 1

    def net(weights, x):
        h = x @ weights[0].T / math.sqrt(widths[0])
        for k in range(1, depth):
            act = a * h + b * jnp.abs(h)
            h = sigma * act @ weights[k].T / math.sqrt(widths[k])
        return h  # (n, m_l)

    def draw(key, x):
        keys = jax.random.split(key, depth)
        weights = [jax.random.normal(keys[k], (widths[k + 1], widths[k]), x.dtype) for k in range(depth)]
        jac = jax.jacrev(net)(weights, x)  # per leaf: (n, m_l, m_{k+1}, m_k)
        n, out_dim = x.shape[0], widths[-1]
        flat = [j.reshape(n * out_dim, -1) for j in jac]
        return sum(j @ j.T for j in flat) / n

    return jax.jit(draw)


def check_jacobian(widths: list[int]) -> float:
    """Max abs difference between the baseline and ntk_eoc.empirical_ntk on the same weights."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import ntk_eoc

    act = ntk_eoc.Activation.named("relu")
    x = jnp.asarray(sphere_points(N_POINTS, widths[0]), dtype=jnp.float32)
    key = jax.random.key(7)
    k_base = np.asarray(jacobian_sampler(widths, act.a, act.b, act.sigma)(key, x))
    keys = jax.random.split(key, len(widths) - 1)
    weights = [jax.random.normal(keys[k], (widths[k + 1], widths[k]), jnp.float32) for k in range(len(widths) - 1)]
    k_ref = np.asarray(ntk_eoc.empirical_ntk(weights, x, act))
    return float(np.max(np.abs(k_base - k_ref)) / np.max(np.abs(k_ref)))


# ----------------------------------------------------------------------------------------------
# One configuration
# ----------------------------------------------------------------------------------------------


def _status_kib(field: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _make_call(method: str, widths: list[int], batch: int, seed: int):
    """call(offset): one timed call, B draws from draw id ``offset`` (the baseline: one draw)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import ntk_eoc

    act = ntk_eoc.Activation.named("relu")
    x = sphere_points(N_POINTS, INPUT_DIM)
    if method == "jacobian":
        draw = jacobian_sampler(widths, act.a, act.b, act.sigma)
        xj = jnp.asarray(x, dtype=jnp.float32)
        base_key = jax.random.key(seed)
        return lambda offset: np.asarray(draw(jax.random.fold_in(base_key, offset), xj))
    return lambda offset: ntk_eoc.sample_kernels(x, act, widths, range(offset, offset + batch), seed, method=method)


def worker(method: str, m: int, repeats: int, budget: float, seed: int) -> dict:
    """Time one configuration (module doc of bench_samplers.py): warm-up, timed calls, floor, memory."""
    import resource

    import jax
    import jax.numpy as jnp
    import numpy as np

    import ntk_eoc  # noqa: F401  (imported before the base RSS, as in the delta column's definition)

    widths = layer_widths(m)
    float(jnp.sum(jnp.ones(4)))  # initialise the backend
    base_kib = _status_kib("VmRSS")
    batch = draws_per_call(method, widths)
    call = _make_call(method, widths, batch, seed)
    start = time.perf_counter()
    out = call(0)
    first = time.perf_counter() - start
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"{method} m={m}: non-finite kernel")
    for i in range(1, WARMUP_CALLS):  # the first calls after compiling run slower (allocator, thread pools)
        call((repeats + i) * batch)
    warm_peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del out
    before_kib = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:  # reset the peak RSS to the current RSS
        fh.write("5")
    times: list[float] = []
    t_begin = time.perf_counter()
    for i in range(1, repeats + 1):
        start = time.perf_counter()
        call(i * batch)
        times.append(time.perf_counter() - start)
        if time.perf_counter() - t_begin > budget and i >= 3:
            break
    timed_peak_kib = _status_kib("VmHWM")
    row = {**summarize(np.array(times) / batch), "times_ms": [1e3 * t / batch for t in times]}
    row["floor_ms"] = gaussian_floor_ms(gaussian_blocks(method, widths), batch, repeats, budget, seed)
    return {
        **row,
        "method": method,
        "m": m,
        "widths": widths,
        "params": n_params(widths),
        "draws_per_call": batch,
        "compile_s": max(first - row["median_ms"] / 1e3 * batch, 0.0),
        "gaussians": gaussians(method, widths),
        "model_mib": model_bytes(method, widths) / _MIB,
        "base_rss_mib": base_kib / 1024,
        "peak_rss_mib": max(warm_peak_kib, timed_peak_kib) / 1024,
        "timed_rss_mib": (timed_peak_kib - before_kib) / 1024,
        "device": str(jax.devices()),
        "load": os.getloadavg()[0],
    }


def summarize(per_draw) -> dict:
    """Median, quartiles and range (ms) of per-draw times (s)."""
    import numpy as np

    return {
        "runs": len(per_draw),
        "median_ms": 1e3 * float(np.median(per_draw)),
        "q25_ms": 1e3 * float(np.quantile(per_draw, 0.25)),
        "q75_ms": 1e3 * float(np.quantile(per_draw, 0.75)),
        "min_ms": 1e3 * float(np.min(per_draw)),
        "max_ms": 1e3 * float(np.max(per_draw)),
    }


def gaussian_floor_ms(blocks: list[tuple[int, int]], batch: int, repeats: int, budget: float, seed: int) -> float:
    """Median ms per draw of generating the draw's float32 N(0,1) blocks (their shapes: ``blocks``) with
    JAX's default generator in one jitted call, timed as the draws are: ``batch`` calls dispatched
    together (keys folded per call), then collected."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    def generate(key):
        keys = jax.random.split(key, len(blocks))
        return [jax.random.normal(k, shape, jnp.float32) for k, shape in zip(keys, blocks, strict=True)]

    floor = jax.jit(generate)
    base = jax.random.key(seed)
    jax.block_until_ready(floor(base))
    times, begin = [], time.perf_counter()
    for i in range(1, max(repeats, 5) + 1):
        start = time.perf_counter()
        jax.block_until_ready([floor(jax.random.fold_in(base, i * batch + j)) for j in range(batch)])
        times.append((time.perf_counter() - start) / batch)
        if time.perf_counter() - begin > budget and i >= 3:
            break
    return 1e3 * float(np.median(times))


if __name__ == "__main__":
    print("RESULT " + json.dumps(worker(*json.loads(sys.argv[1]))), flush=True)
