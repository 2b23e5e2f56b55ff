"""Per-draw time and peak memory of the NTK samplers.

Three ways to draw K(theta) for the MLP of SCIENCE.md §1 (n points on the sphere of radius
sqrt(m_0), quadratic width schedule, ReLU at the EOC):

  explicit     ntk_eoc.sample_kernels(method="explicit")
  conditioned  ntk_eoc.sample_kernels(method="conditioned")
  jacobian     the hand-written baseline: the MLP in plain JAX, weights from jax.random.normal,
               jax.jacrev of the n outputs w.r.t. the weight list, K = (1/n) sum_leaves J J^T;
               jit-compiled, one draw per call.

Every (method, m) configuration runs in a fresh subprocess: one warm-up call (compiles), then
``--repeats`` timed calls. A sample_kernels call asks for B draws, B being the number of draws the sampler
dispatches together for that configuration (samplers.batch_size); the per-draw time is the call time / B and
includes drawing the weights, the key derivation and the copy of the result to host memory.

Memory columns (RSS of the subprocess, MiB):
  peak      whole-process peak RSS (ru_maxrss): import, compilation, warm-up and timed calls.
  delta     peak minus the RSS after importing jax and ntk_eoc and initialising the backend (before
            any compilation): the memory one call of B draws needs, compiler included.
The CSV also has timed_rss_mib, the peak RSS during the timed calls minus the RSS just before them
(peak reset through /proc/self/clear_refs). It is ~0 on jax 0.12 CPU because the buffers of the
warm-up call stay resident, so it does not measure the working set: use delta.

A configuration whose estimated memory exceeds ``--limit-gib`` (or what the machine has available,
less 2 GiB) is not run ("skipped (needs ~X GiB)"); a running one is killed if its RSS crosses the
limit or it exceeds its time allowance (5 x --budget + 300 s).

Usage:
    .venv/bin/python benchmarks/bench_samplers.py            # full table, ~15 min on 2 cores
    .venv/bin/python benchmarks/bench_samplers.py --quick    # tiny smoke run, < 1 min
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

N_POINTS = 64
INPUT_DIM = 16
DEPTH = 4
OUTPUT_DIM = 1
SCHEDULE = "quadratic"
METHODS = ("explicit", "conditioned", "jacobian")
DEFAULT_MS = (64, 256, 1024, 4096)
# Conditioned only: widest hidden layer 9 m ~ 1.5e5, 3.7e5 and 1e6.
DEFAULT_BIG_MS = (16384, 40960, 111111)
QUICK_MS = (32,)
QUICK_BIG_MS = (128,)
RESULTS = Path(__file__).resolve().parent / "results" / "samplers.csv"
_MIB = 2**20
_GIB = 2**30
# RSS of a subprocess after importing jax and ntk_eoc, plus the compiler's working memory.
_BASE_BYTES = 600 * _MIB
# Peak RSS of the jacobian baseline ~ one float32 Jacobian (n m_l x #params) plus the base (measured
# at m = 256 and 512 with jax 0.12); the margin covers other XLA versions.
_JACOBIAN_COPIES = 1.25
# Memory left to the rest of the machine: a configuration needing more than MemAvailable minus this
# is skipped, whatever --limit-gib says.
_HEADROOM_BYTES = 2 * _GIB


# ----------------------------------------------------------------------------------------------
# Configuration helpers (parent and worker)
# ----------------------------------------------------------------------------------------------


def layer_widths(m: int) -> list[int]:
    import ntk_eoc

    return ntk_eoc.widths(SCHEDULE, m, DEPTH, INPUT_DIM, OUTPUT_DIM, max_bytes_per_point=None)


def n_params(widths: list[int]) -> int:
    return sum(a * b for a, b in itertools.pairwise(widths))


def draws_per_call(method: str, widths: list[int]) -> int:
    """Draws per timed call: the sampler's own compiled batch size, 1 for the baseline."""
    if method == "jacobian":
        return 1
    from ntk_eoc import Activation
    from ntk_eoc.math import cost
    from ntk_eoc.math.architecture import Architecture

    return cost.batch_size(method, Architecture(tuple(widths), Activation.named("relu")), N_POINTS, 4)


def estimate_bytes(method: str, widths: list[int]) -> int:
    """Rough peak RSS of a configuration's subprocess, used to skip what cannot fit."""
    if method == "jacobian":
        params = n_params(widths)
        return int(_BASE_BYTES + 4 * (_JACOBIAN_COPIES * N_POINTS * OUTPUT_DIM * params + 2 * params))
    from ntk_eoc import Activation
    from ntk_eoc.math import cost
    from ntk_eoc.math.architecture import Architecture

    batch = draws_per_call(method, widths)
    arch = Architecture(tuple(widths), Activation.named("relu"))
    return int(_BASE_BYTES + batch * cost.draw_bytes(method, arch, N_POINTS, 4))


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
# Worker: one configuration in a fresh process
# ----------------------------------------------------------------------------------------------


def _meminfo_bytes(field: str) -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _status_kib(field: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def worker(method: str, m: int, repeats: int, budget: float, seed: int) -> dict:
    import resource

    import jax
    import jax.numpy as jnp
    import numpy as np

    import ntk_eoc

    widths = layer_widths(m)
    act = ntk_eoc.Activation.named("relu")
    x = sphere_points(N_POINTS, INPUT_DIM)
    float(jnp.sum(jnp.ones(4)))  # initialise the backend
    base_kib = _status_kib("VmRSS")
    batch = draws_per_call(method, widths)

    if method == "jacobian":
        draw = jacobian_sampler(widths, act.a, act.b, act.sigma)
        xj = jnp.asarray(x, dtype=jnp.float32)
        base_key = jax.random.key(seed)

        def call(offset: int):
            return np.asarray(draw(jax.random.fold_in(base_key, offset), xj))
    else:

        def call(offset: int):
            return ntk_eoc.sample_kernels(x, act, widths, range(offset, offset + batch), seed, method=method)

    start = time.perf_counter()
    out = call(0)
    first = time.perf_counter() - start
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"{method} m={m}: non-finite kernel")
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
    per_draw = np.array(times) / batch
    median = float(np.median(per_draw))
    return {
        "method": method,
        "m": m,
        "widths": widths,
        "params": n_params(widths),
        "draws_per_call": batch,
        "runs": len(times),
        "median_ms": 1e3 * median,
        "q25_ms": 1e3 * float(np.quantile(per_draw, 0.25)),
        "q75_ms": 1e3 * float(np.quantile(per_draw, 0.75)),
        "min_ms": 1e3 * float(per_draw.min()),
        "max_ms": 1e3 * float(per_draw.max()),
        "compile_s": max(first - median * batch, 0.0),
        "base_rss_mib": base_kib / 1024,
        "peak_rss_mib": max(warm_peak_kib, timed_peak_kib) / 1024,
        "timed_rss_mib": (timed_peak_kib - before_kib) / 1024,
    }


# ----------------------------------------------------------------------------------------------
# Parent: run the grid, watch memory, print and save
# ----------------------------------------------------------------------------------------------


def run_config(method: str, m: int, args: argparse.Namespace) -> dict:
    widths = layer_widths(m)
    row = {"method": method, "m": m, "widths": widths, "params": n_params(widths)}
    need = estimate_bytes(method, widths)
    row["est_gib"] = need / _GIB
    if need > args.limit_gib * _GIB:
        row["status"] = f"skipped (needs ~{need / _GIB:.0f} GiB)"
        return row
    available = _meminfo_bytes("MemAvailable") - _HEADROOM_BYTES
    if need > available:
        row["status"] = f"skipped (needs ~{need / _GIB:.1f} GiB, {available / _GIB:.1f} GiB free)"
        return row
    cmd = [sys.executable, __file__, "--worker", json.dumps([method, m, args.repeats, args.budget, args.seed])]
    # The allowance covers compilation, the warm-up and the timed calls of a slow configuration.
    allowance = 5 * args.budget + 300
    limit_kib = args.limit_gib * _GIB / 1024
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start, status = time.monotonic(), None
    while proc.poll() is None:
        try:
            rss = _status_kib("VmRSS", proc.pid)
        except (FileNotFoundError, KeyError, ProcessLookupError):
            rss = 0
        if rss > limit_kib:
            status = f"killed (RSS > {args.limit_gib:g} GiB)"
        elif time.monotonic() - start > allowance:
            status = f"killed (> {allowance:.0f} s)"
        if status:
            proc.kill()
            break
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    if status is None and proc.returncode != 0:
        tail = stderr.strip().splitlines()[-1:] or ["?"]
        status = f"failed (exit {proc.returncode}: {tail[0][:80]})"
    if status:
        row["status"] = status
        return row
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            row.update(json.loads(line[len("RESULT ") :]))
    row["status"] = "ok"
    return row


def add_speedups(rows: list[dict]) -> None:
    """speedup = (per-draw median of this method) / (per-draw median of conditioned), same m."""
    cond = {r["m"]: r["median_ms"] for r in rows if r["method"] == "conditioned" and r["status"] == "ok"}
    for r in rows:
        ok = r["status"] == "ok" and r["method"] != "conditioned" and r["m"] in cond
        r["cond_speedup"] = r["median_ms"] / cond[r["m"]] if ok else None


def _fmt_ms(v: float) -> str:
    return f"{v:.4g}" if v < 1000 else f"{v:.0f}"


def format_table(rows: list[dict]) -> str:
    head = [
        "method",
        "m",
        "hidden widths",
        "B",
        "runs",
        "ms/draw (median)",
        "IQR ms",
        "min-max ms",
        "compile s",
        "peak MiB",
        "delta MiB",
        "cond. speedup",
    ]
    body = []
    for r in rows:
        hidden = "/".join(str(w) for w in r["widths"][1:-1])
        if r["status"] != "ok":
            body.append([r["method"], str(r["m"]), hidden, "", "", r["status"], *[""] * 6])
            continue
        body.append(
            [
                r["method"],
                str(r["m"]),
                hidden,
                str(r["draws_per_call"]),
                str(r["runs"]),
                _fmt_ms(r["median_ms"]),
                f"{_fmt_ms(r['q25_ms'])}-{_fmt_ms(r['q75_ms'])}",
                f"{_fmt_ms(r['min_ms'])}-{_fmt_ms(r['max_ms'])}",
                f"{r['compile_s']:.2f}",
                f"{r['peak_rss_mib']:.0f}",
                f"{r['peak_rss_mib'] - r['base_rss_mib']:.0f}",
                "" if r.get("cond_speedup") is None else f"{r['cond_speedup']:.3g}x",
            ]
        )
    widths = [len(h) for h in head]
    for line in body:
        widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in body:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
    return "\n".join(lines)


def machine() -> dict:
    import jax

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "jax": jax.__version__,
        "python": platform.python_version(),
        "load": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [
        "method",
        "m",
        "widths",
        "params",
        "status",
        "est_gib",
        "draws_per_call",
        "runs",
        "median_ms",
        "q25_ms",
        "q75_ms",
        "min_ms",
        "max_ms",
        "compile_s",
        "base_rss_mib",
        "peak_rss_mib",
        "timed_rss_mib",
        "cond_speedup",
    ]
    with open(path, "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        out.writeheader()
        for r in rows:
            out.writerow({**r, "widths": " ".join(str(w) for w in r["widths"])})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny grid (m = 32; conditioned also m = 128), < 1 min")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"CSV output (default {RESULTS})")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per configuration (default 5)")
    p.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds of timed calls per configuration; past it, stop after 3 calls (default 60)",
    )
    p.add_argument("--limit-gib", type=float, default=16.0, help="memory limit per configuration (default 16)")
    p.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="default: explicit conditioned jacobian",
    )
    p.add_argument("--ms", nargs="+", type=int, help=f"base widths for all methods (default {DEFAULT_MS})")
    p.add_argument("--big-ms", nargs="*", type=int, help=f"extra base widths, conditioned only ({DEFAULT_BIG_MS})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.ms is None:
        args.ms = list(QUICK_MS if args.quick else DEFAULT_MS)
    if args.big_ms is None:
        args.big_ms = list(QUICK_BIG_MS if args.quick else DEFAULT_BIG_MS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        method, m, repeats, budget, seed = json.loads(args.worker)
        print("RESULT " + json.dumps(worker(method, m, repeats, budget, seed)), flush=True)
        return 0
    info = machine()
    print(
        f"# n={N_POINTS}, m_0={INPUT_DIM}, depth={DEPTH}, {SCHEDULE} schedule, m_l={OUTPUT_DIM}, relu, float32; "
        f"{info['nproc']} x {info['cpu']}, jax {info['jax']}, load {info['load']}",
        flush=True,
    )
    if "jacobian" in args.methods:
        err = check_jacobian(layer_widths(min(args.ms)))
        print(f"# jacobian baseline vs ntk_eoc.empirical_ntk (same weights): max rel. diff {err:.1e}", flush=True)
    grid = [(meth, m) for m in args.ms for meth in args.methods]
    if "conditioned" in args.methods:
        grid += [("conditioned", m) for m in args.big_ms if m not in args.ms]
    rows = []
    t0 = time.monotonic()
    for method, m in grid:
        start = time.monotonic()
        row = run_config(method, m, args)
        rows.append(row)
        detail = f"{row['median_ms']:.4g} ms/draw" if row["status"] == "ok" else row["status"]
        print(f"  {method:11s} m={m:<7d} {detail}  [{time.monotonic() - start:.0f} s]", flush=True)
    add_speedups(rows)
    print()
    print(format_table(rows))
    print(
        "\nms/draw: wall time of one call / B draws (weights drawn included; compile excluded). "
        "compile s: first call - median call.\npeak MiB: whole-subprocess peak RSS; delta MiB: peak - RSS "
        "after import and backend init. cond. speedup: this ms/draw / conditioned ms/draw at the same m."
    )
    print(f"# total {time.monotonic() - t0:.0f} s, load at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    write_csv(rows, args.out)
    print(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
