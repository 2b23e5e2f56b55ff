"""Where the time of one sampled draw goes: XLA operations grouped by kind, from a JAX profiler trace.

The draw of bench_samplers.py (n = 64, m_0 = 16, depth 4, quadratic widths from m, ReLU, float32), run
``--draws`` times under ``jax.profiler.trace``; every leaf XLA operation of the trace is attributed, by
the JAX operation that produced it (HLO metadata op_name), to one of

  gaussians    the N(0,1) generation (threefry bits, erfinv, the uint32 copies of its loop)
  matmul       dot_general (YNNPACK/Eigen fusions included)
  factor       the n x n float64 factorizations (Cholesky, triangular solves, eigh; LAPACK)
  other        everything else: activations, gates, converts, copies, the kernel's Hadamard products

Usage:
    .venv/bin/python benchmarks/profile_draw.py --m 1024            # --method, --draws, --top
"""

from __future__ import annotations

import argparse
import collections
import functools
import glob
import gzip
import json
import os
import re
import sys
import tempfile
import time

CATEGORIES = ("gaussians", "matmul", "factor", "other")
# Profiler events that wrap other events (executors, waits, Python frames), not XLA operations.
_WRAPPERS = re.compile(r"^(ThunkExecutor|PjitFunction|CommonPjRt|\$|while\.|conditional\.|call\.)")


def _category(op_name: str, instruction: str) -> str:
    if re.search(r"random|_normal|_uniform|threefry|erf_inv", op_name) or re.search(r"= u32\[", instruction):
        return "gaussians"
    if re.search(r"eigh|cholesky|triangular_solve", op_name) or re.search(r"syevd|potrf|trsm", instruction):
        return "factor"
    if "dot_general" in op_name or " dot(" in instruction:
        return "matmul"
    return "other"


def _instructions(hlo: str) -> dict[str, tuple[str, str]]:
    """Instruction name -> (op_name metadata, the instruction's text) of compiled HLO."""
    table = {}
    for line in hlo.splitlines():
        match = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = ", line)
        if match:
            op = re.search(r'op_name="([^"]*)"', line)
            table[match.group(1)] = (op.group(1) if op else "", line)
    return table


def profile(method: str, m: int, draws: int) -> tuple[dict[str, float], list[tuple[float, str, str]], float]:
    """(ms per draw by category, [(ms per draw, instruction, category)] by op, wall ms per draw)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from bench_worker import INPUT_DIM, N_POINTS, _architecture, layer_widths, sphere_points

    from ntk_eoc.math import samplers

    arch = _architecture(layer_widths(m))
    x = jnp.asarray(sphere_points(N_POINTS, INPUT_DIM), jnp.float32)
    draw = functools.partial(samplers._DRAWS[method], arch=arch)

    def run(base, draw_id, x):
        return jnp.sum(draw(samplers._draw_key(base, draw_id), x), axis=0)

    from threadpoolctl import threadpool_limits

    base = jax.random.key(0)
    # As the sampler traces and runs it (samplers._compiled_draw, samplers._dispatch).
    with jax.enable_x64(True), threadpool_limits(limits=samplers.BLAS_THREADS, user_api="blas"):
        compiled = jax.jit(run).lower(base, np.uint32(0), x).compile()
        compiled(base, np.uint32(0), x).block_until_ready()
        table = _instructions(compiled.as_text())
        with tempfile.TemporaryDirectory() as trace_dir:
            with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
                start = time.perf_counter()
                for i in range(1, draws + 1):
                    compiled(base, np.uint32(i), x).block_until_ready()
                wall = (time.perf_counter() - start) / draws
            (path,) = glob.glob(os.path.join(trace_dir, "**", "perfetto_trace.json.gz"), recursive=True)
            events = json.load(gzip.open(path))
    events = events["traceEvents"] if isinstance(events, dict) else events
    per_op: collections.Counter = collections.Counter()
    for event in events:
        if event.get("ph") == "X" and event["name"] in table and not _WRAPPERS.match(event["name"]):
            per_op[event["name"]] += event.get("dur", 0) / 1e3 / draws
    by_category = dict.fromkeys(CATEGORIES, 0.0)
    ops = []
    for name, ms in per_op.most_common():
        category = _category(*table[name])
        by_category[category] += ms
        ops.append((ms, name, category))
    return by_category, ops, 1e3 * wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--m", type=int, default=1024, help="base width (default 1024)")
    p.add_argument("--method", choices=("conditioned", "explicit"), default="conditioned")
    p.add_argument("--draws", type=int, default=20, help="profiled draws (default 20)")
    p.add_argument("--top", type=int, default=15, help="operations listed (default 15)")
    args = p.parse_args(argv)
    by_category, ops, wall = profile(args.method, args.m, args.draws)
    total = sum(by_category.values())
    print(f"# {args.method}, m = {args.m}, {args.draws} draws, load {os.getloadavg()[0]:.2f}")
    print(f"wall {wall:.2f} ms/draw; XLA operations {total:.2f} ms/draw (the rest: dispatch, gaps)")
    for category, ms in by_category.items():
        print(f"  {category:10s} {ms:7.2f} ms  ({100 * ms / total:4.1f} %)")
    print(f"top {args.top} operations (ms/draw):")
    for ms, name, category in ops[: args.top]:
        print(f"  {ms:7.3f}  {category:10s} {name}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
