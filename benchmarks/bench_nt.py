"""neural-tangents 0.6.5 beside ntk-eoc: its own virtualenv, and the worker that times it there.

neural-tangents 0.6.5 imports only on old JAX, so it never enters the project's environment:
:func:`ensure_venv` creates ``benchmarks/.nt-venv`` (git-ignored) on request, with jax/jaxlib 0.4.30 and
neural-tangents 0.6.5 from PyPI, and bench_samplers.py runs this file with that venv's python, one
subprocess per base width. Run as a script (``python bench_nt.py '<json>'``) it is the worker: it
imports neither ntk_eoc nor anything of the project.

Two adjustments make 0.6.5 run on jax 0.4.30, neither touching what is timed:
- neural-tangents is installed with ``--no-deps`` (plus its runtime dependency frozendict): its declared
  tensorflow dependency serves only ``neural_tangents.experimental`` (a TF port of empirical NTKs), which
  its ``__init__`` imports eagerly; the worker registers an empty ``neural_tangents.experimental``
  module first, so tensorflow (~600 MB) is never installed or imported;
- STRUCTURED_DERIVATIVES reads ``jax.interpreters.ad.source_info_util`` and ``ad.config``, names jax
  stopped re-exporting (jax-ml/jax#18117); the worker restores them (jax._src.source_info_util, jax.config).

The network is the benchmark's (SCIENCE.md §1): stax.Dense(m_k, W_std=1 then sigma, b_std=None,
parameterization="ntk") with stax.Relu() between layers; one draw = init_fn (weights drawn) + ntk_fn with
vmap_axes=0 (vmap over points) and trace_axes=(), jit-compiled together. The three implementations
(JACOBIAN_CONTRACTION, NTK_VECTOR_PRODUCTS, STRUCTURED_DERIVATIVES) are probed with two calls each (the
first two only while their Jacobian, n x #params float32, fits in 1 GiB); the fastest is timed.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

NT_VERSION = "0.6.5"
NT_JAX = "0.4.30"
# Pins of the NT venv: numpy and scipy releases contemporary with jax 0.4.30 (numpy 2.1+ postdates it).
NT_PINS = [f"jax=={NT_JAX}", f"jaxlib=={NT_JAX}", "numpy<2.1", "scipy<1.15", "frozendict"]
DEFAULT_VENV = Path(__file__).resolve().parent / ".nt-venv"
IMPLEMENTATIONS = {1: "JACOBIAN_CONTRACTION", 2: "NTK_VECTOR_PRODUCTS", 3: "STRUCTURED_DERIVATIVES"}
PROBE_CALLS = 2
# JACOBIAN_CONTRACTION and NTK_VECTOR_PRODUCTS hold n x #params float32 numbers (the Jacobian); above
# this size only STRUCTURED_DERIVATIVES is probed (measured here: 100x faster than both at m = 256).
PROBE_JACOBIAN_BYTES = 2**30


# ----------------------------------------------------------------------------------------------
# Parent side (project environment)
# ----------------------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path, cuda: bool = False, log=print) -> Path:
    """The NT venv's python, creating the venv first if it has no neural-tangents. ``cuda``: install
    jax[cuda12]==0.4.30 (for a GPU run; the machine must reach PyPI or a wheel mirror)."""
    python = venv_python(venv)
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('neural-tangents'))"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == NT_VERSION:
        return python
    start = time.monotonic()
    log(f"# creating {venv} (jax {NT_JAX}, neural-tangents {NT_VERSION}) ...")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pins = [f"jax[cuda12]=={NT_JAX}", *NT_PINS[1:]] if cuda else NT_PINS
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *pins], check=True)
    subprocess.run([*pip, "--no-deps", f"neural-tangents=={NT_VERSION}"], check=True)
    log(f"# created {venv} in {time.monotonic() - start:.0f} s")
    return python


def run_worker(python: Path, job: dict, env: dict, timeout: float) -> dict:
    """Run this file's worker with the NT venv's python; its RESULT line as a dict (or a status)."""
    cmd = [str(python), __file__, json.dumps(job)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"killed (> {timeout:.0f} s)"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[len("RESULT ") :]), "status": "ok"}
    tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
    return {"status": f"failed (exit {proc.returncode}: {tail[:80]})"}


# ----------------------------------------------------------------------------------------------
# Worker side (NT venv: jax 0.4.30, neural-tangents 0.6.5)
# ----------------------------------------------------------------------------------------------


def _import_nt():
    sys.modules.setdefault("neural_tangents.experimental", types.ModuleType("neural_tangents.experimental"))
    import jax
    from jax._src import source_info_util
    from jax.interpreters import ad

    ad.source_info_util = getattr(ad, "source_info_util", source_info_util)
    ad.config = getattr(ad, "config", jax.config)
    import neural_tangents as nt
    from neural_tangents import stax

    return nt, stax


def _network(stax, widths: list[int], sigma: float):
    layers = []
    for k in range(1, len(widths)):
        layers.append(stax.Dense(widths[k], W_std=1.0 if k == 1 else sigma, b_std=None, parameterization="ntk"))
        if k < len(widths) - 1:
            layers.append(stax.Relu())
    init_fn, apply_fn, _ = stax.serial(*layers)
    return init_fn, apply_fn


def _timed(fn, calls: int, budget: float) -> list[float]:
    import jax

    times, begin = [], time.perf_counter()
    for i in range(1, calls + 1):
        start = time.perf_counter()
        jax.block_until_ready(fn(i))
        times.append(time.perf_counter() - start)
        if time.perf_counter() - begin > budget and i >= 3:
            break
    return times


def worker(job: dict) -> dict:
    """Time one draw (weights and kernel) of neural-tangents at job["widths"]; see the module doc."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    nt, stax = _import_nt()
    widths, x = job["widths"], jnp.asarray(np.asarray(job["x"]), jnp.float32)
    init_fn, apply_fn = _network(stax, widths, job["sigma"])
    base = jax.random.PRNGKey(job["seed"])
    count = sum(a * b for a, b in itertools.pairwise(widths))
    default = sorted(IMPLEMENTATIONS) if 4 * x.shape[0] * widths[-1] * count <= PROBE_JACOBIAN_BYTES else [3]
    draws, probes = {}, {}
    for impl in job.get("implementations") or default:
        ntk_fn = nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0, implementation=impl)
        draws[impl] = jax.jit(lambda key, ntk_fn=ntk_fn: ntk_fn(x, None, init_fn(key, x.shape)[1]))
        start = time.perf_counter()
        draws[impl](base).block_until_ready()
        compile_s = time.perf_counter() - start
        probe = _timed(lambda i, impl=impl: draws[impl](jax.random.fold_in(base, i)), PROBE_CALLS, job["budget"])
        probes[impl] = (float(np.median(probe)), compile_s)
    best = min(probes, key=lambda impl: probes[impl][0])
    times = np.array(_timed(lambda i: draws[best](jax.random.fold_in(base, 100 + i)), job["repeats"], job["budget"]))
    shapes = list(itertools.pairwise(widths))  # NT's W_k: (fan_in, fan_out)

    def weights(key):
        return [jax.random.normal(k, s) for k, s in zip(jax.random.split(key, len(shapes)), shapes, strict=True)]

    floor = jax.jit(weights)
    jax.block_until_ready(floor(base))
    floor_times = _timed(lambda i: floor(jax.random.fold_in(base, i)), job["repeats"], job["budget"])
    result = {
        "implementation": IMPLEMENTATIONS[best],
        "probes_ms": {IMPLEMENTATIONS[k]: 1e3 * v[0] for k, v in probes.items()},
        "times_s": times.tolist(),
        "compile_s": probes[best][1],
        "floor_ms": 1e3 * float(np.median(floor_times)),
        "gaussians": count,
        "jax": jax.__version__,
        "device": str(jax.devices()),
        "load": os.getloadavg()[0],
    }
    if job.get("check"):  # weights and kernel of one draw, for the parent's check against ntk_eoc
        params = init_fn(base, x.shape)[1]
        kernel = draws[best](base)
        weights = [np.asarray(p[0]).T for p in params if isinstance(p, tuple) and len(p) == 2 and p[0] is not None]
        np.savez(job["check"], *weights, kernel=np.asarray(kernel))
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(worker(json.loads(sys.argv[1]))), flush=True)
