"""Calibration of ntk_eoc.math.cost: the constants of map_cost measured, and its route choice checked.

1. Constants, in float32 matmul flops (the unit of map_cost): the time of one N(0,1) number (JAX's
   default generator, float32), of one float64 matmul flop, and of the float64 factorization of an
   n x n Gram (conditioning.gram_factors on a well-conditioned G: Cholesky and triangular inverse).
   Printed beside cost.GAUSSIAN_FLOPS, cost.FLOAT64_FLOPS and cost.factor_cost(n).
2. Route check: networks 16 -> m_1 -> m_2 -> 1 (ReLU, n = 64 points); the middle map (m_1 -> m_2) is drawn
   explicitly or conditioned (the cost model overridden), each timed per draw; the table says which
   was faster and which cost.choose_maps picks.

Timings are medians over --repeats calls, interleaved between the two routes, with the load average.

Usage:
    .venv/bin/python benchmarks/calibrate_cost.py            # ~2 min on 2 cores
    .venv/bin/python benchmarks/calibrate_cost.py --quick    # constants only, seconds
"""

from __future__ import annotations

import argparse
import os
import sys
import time

N_POINTS = 64
ROUTE_GRID = [(m1, m2) for m1 in (32, 64, 128, 256) for m2 in (64, 256, 1024)]


def _median_seconds(fn, repeats: int) -> float:
    import numpy as np

    fn(0)  # compile / warm up
    times = []
    for i in range(1, repeats + 1):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def constants(repeats: int) -> dict[str, float]:
    """Measured GAUSSIAN_FLOPS, FLOAT64_FLOPS and factorization times, in float32 matmul flops."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)
    count, n, m = 2**21, N_POINTS, 4096
    normal = jax.jit(lambda key: jax.random.normal(key, (count,), jnp.float32))
    key = jax.random.key(0)
    t_gauss = _median_seconds(lambda i: normal(jax.random.fold_in(key, i)).block_until_ready(), repeats) / count
    flops = {}
    for dtype in (jnp.float32, jnp.float64):
        a = jnp.asarray(rng.standard_normal((n, m)), dtype)
        gram = jax.jit(lambda a: a @ a.T)
        flops[dtype] = _median_seconds(lambda i, a=a, gram=gram: gram(a).block_until_ready(), repeats) / (2 * n * n * m)
    from ntk_eoc.math.conditioning import gram_factors

    factor = {}
    for size in (16, 64, 256):
        g = rng.standard_normal((size, 2 * size))
        g = jnp.asarray(g @ g.T, jnp.float64)
        run = jax.jit(gram_factors)
        factor[size] = _median_seconds(lambda i, g=g, run=run: run(g)[0].block_until_ready(), repeats)
    return {
        "ns_per_gaussian": 1e9 * t_gauss,
        "gflops_float32": 1e-9 / flops[jnp.float32],
        "GAUSSIAN_FLOPS": t_gauss / flops[jnp.float32],
        "FLOAT64_FLOPS": flops[jnp.float64] / flops[jnp.float32],
        **{f"factor(n={size})": t / flops[jnp.float32] for size, t in factor.items()},
    }


def route_times(m1: int, m2: int, repeats: int) -> dict[str, float]:
    """ms per draw with the middle map explicit and conditioned, interleaved; the cost model's choice."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ntk_eoc import Activation
    from ntk_eoc.math import cost, samplers
    from ntk_eoc.math.architecture import Architecture

    arch = Architecture((16, m1, m2, 1), Activation.named("relu"))
    x = np.random.default_rng(0).standard_normal((N_POINTS, 16))
    x = jnp.asarray(x * (4.0 / np.linalg.norm(x, axis=1, keepdims=True)), jnp.float32)
    runs = {}
    for name, middle in (("explicit", False), ("conditioned", True)):  # the route of the middle map, forced
        runs[name] = samplers._compiled_draw("conditioned", arch, False, N_POINTS, "float32", (False, middle, False))
        runs[name](jax.random.key(0), np.uint32(0), x).block_until_ready()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(1, repeats + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run(jax.random.key(0), np.uint32(i), x).block_until_ready()
            times[name].append(time.perf_counter() - start)
    chosen = "conditioned" if cost.choose_maps(arch, N_POINTS)[1] else "explicit"
    return {**{name: 1e3 * float(np.median(t)) for name, t in times.items()}, "chosen": chosen}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=21, help="timed calls per measurement (default 21)")
    p.add_argument("--quick", action="store_true", help="constants only")
    args = p.parse_args(argv)
    import jax
    from threadpoolctl import threadpool_limits

    from ntk_eoc.math import cost, samplers

    print(f"# jax {jax.__version__}, {jax.devices()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    # As the sampler runs its draws: one BLAS thread for the LAPACK calls (samplers._dispatch).
    blas = threadpool_limits(limits=samplers.BLAS_THREADS, user_api="blas")
    with jax.enable_x64(True):  # the float64 matmul and factorizations
        measured = constants(args.repeats)
    model = {"GAUSSIAN_FLOPS": cost.GAUSSIAN_FLOPS, "FLOAT64_FLOPS": cost.FLOAT64_FLOPS}
    for name, value in measured.items():
        ref = model.get(name, cost.factor_cost(int(name[9:-1])) if name.startswith("factor") else None)
        print(f"  {name:22s} {value:10.3g}" + ("" if ref is None else f"   (cost.py: {ref:g})"))
    if args.quick:
        blas.restore_original_limits()
        return 0
    load = os.getloadavg()[0]
    print(f"\n# route of the middle map of 16 -> m_1 -> m_2 -> 1, n = {N_POINTS}; ms/draw, load {load:.2f}")
    print("| m_1 | m_2 | explicit | conditioned | faster | cost model | agree |")
    print("|---|---|---|---|---|---|---|")
    for m1, m2 in ROUTE_GRID:
        r = route_times(m1, m2, args.repeats)
        faster = "conditioned" if r["conditioned"] < r["explicit"] else "explicit"
        agree = "yes" if faster == r["chosen"] else "no"
        print(f"| {m1} | {m2} | {r['explicit']:.3f} | {r['conditioned']:.3f} | {faster} | {r['chosen']} | {agree} |")
    print(f"# load at end {os.getloadavg()[0]:.2f}")
    blas.restore_original_limits()
    return 0


if __name__ == "__main__":
    sys.exit(main())
