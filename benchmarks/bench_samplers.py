"""Per-draw time and peak memory of the NTK samplers, beside the Gaussian floor and neural-tangents.

Ways to draw K(theta) for the MLP of SCIENCE.md §1 (n points on the sphere of radius sqrt(m_0),
quadratic width schedule, ReLU at the EOC), weights drawn included:

  explicit         ntk_eoc.sample_kernels(method="explicit")
  conditioned      ntk_eoc.sample_kernels(method="conditioned")
  jacobian         the hand-written baseline: the MLP in plain JAX, weights from jax.random.normal,
                   jax.jacrev of the n outputs w.r.t. the weight list, K = (1/n) sum_leaves J J^T;
                   jit-compiled, one draw per call.
  neural-tangents  with --neural-tangents: neural-tangents 0.6.5 on jax 0.4.30 in its own virtualenv
                   (benchmarks/.nt-venv, created on first use; bench_nt.py), init_fn + empirical_ntk_fn
                   with vmap over points, the fastest of its three implementations.

Every (method, m) configuration runs in a fresh subprocess: three warm-up calls (the first compiles), then
``--repeats`` timed calls. A sample_kernels call asks for B draws, B being the number of draws the sampler
dispatches together for that configuration (cost.batch_size with the device's budget); the per-draw time
is the call time / B and includes drawing the weights, the key derivation and the copy to host memory.

Floor: in the same subprocess, the time of generating the draw's N(0,1) numbers alone, in the blocks it
draws them in (cost.gaussian_blocks; the weight matrices for the others), with JAX's default generator in
one jitted call, B calls dispatched together as the draws are; "x floor" is the draw's time over it.

Memory columns (RSS of the subprocess, MiB):
  peak      whole-process peak RSS (ru_maxrss): import, compilation, warm-up and timed calls.
  delta     peak minus the RSS after importing jax and ntk_eoc and initialising the backend (before
            any compilation): the memory one call of B draws needs, compiler included.
  model     B x cost.draw_bytes, the memory model's estimate of the same.

A configuration whose estimated memory exceeds ``--limit-gib`` (or what the machine has available,
less 2 GiB) is not run ("skipped (needs ~X GiB)"); a running one is killed if its RSS crosses the
limit or it exceeds its time allowance (5 x --budget + 300 s).

Usage:
    .venv/bin/python benchmarks/bench_samplers.py                       # full table, ~15 min on 2 cores
    .venv/bin/python benchmarks/bench_samplers.py --neural-tangents     # ... with neural-tangents 0.6.5
    .venv/bin/python benchmarks/bench_samplers.py --quick               # tiny smoke run, < 1 min
    .venv/bin/python benchmarks/bench_samplers.py --device gpu          # the same table on the GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import bench_nt
from bench_report import NT, add_ratios, format_table, merge_rounds, write_csv
from bench_worker import (
    DEPTH,
    INPUT_DIM,
    N_POINTS,
    OUTPUT_DIM,
    SCHEDULE,
    _status_kib,
    check_jacobian,
    layer_widths,
    model_bytes,
    n_params,
    sphere_points,
    summarize,
)

METHODS = ("explicit", "conditioned", "jacobian")
DEFAULT_MS = (64, 256, 1024, 4096)
# Conditioned only: widest hidden layer 9 m ~ 1.5e5, 3.7e5 and 1e6.
DEFAULT_BIG_MS = (16384, 40960, 111111)
QUICK_MS = (32,)
QUICK_BIG_MS = (128,)
RESULTS = Path(__file__).resolve().parent / "results" / "samplers.csv"
WORKER = Path(__file__).resolve().parent / "bench_worker.py"
_MIB = 2**20
_GIB = 2**30
# RSS of a subprocess after importing jax and ntk_eoc, plus the compiler's working memory.
_BASE_BYTES = 600 * _MIB
# Peak RSS of the jacobian baseline ~ one float32 Jacobian (n m_l x #params) plus the base (measured
# at m = 256 and 512 with jax 0.12); the margin covers other XLA versions.
_JACOBIAN_COPIES = 1.25
# neural-tangents (STRUCTURED_DERIVATIVES) holds about two float32 copies of the weights plus per-layer
# Jacobian blocks: ~3 x 4 bytes x #params plus the base (measured 1.0 GiB at m = 1024, 42 M params).
_NT_BYTES_PER_PARAM = 12
# Memory left to the rest of the machine: a configuration needing more than MemAvailable minus this
# is skipped, whatever --limit-gib says.
_HEADROOM_BYTES = 2 * _GIB


def estimate_bytes(method: str, widths: list[int]) -> int:
    """Rough peak RSS of a configuration's subprocess, used to skip what cannot fit."""
    params = n_params(widths)
    if method == "jacobian":
        return int(_BASE_BYTES + 4 * (_JACOBIAN_COPIES * N_POINTS * OUTPUT_DIM * params + 2 * params))
    if method == NT:
        return int(_BASE_BYTES + _NT_BYTES_PER_PARAM * params)
    return int(_BASE_BYTES + model_bytes(method, widths))


def _meminfo_bytes(field: str) -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _device_env(device: str | None) -> dict:
    """The environment of a worker: JAX_PLATFORMS=device when --device is given."""
    env = dict(os.environ)
    if device:
        env["JAX_PLATFORMS"] = device
    return env


def _memory_gate(method: str, widths: list[int], args: argparse.Namespace) -> str | None:
    """A 'skipped' status when the configuration cannot fit, else None."""
    need = estimate_bytes(method, widths)
    if need > args.limit_gib * _GIB:
        return f"skipped (needs ~{need / _GIB:.0f} GiB)"
    available = _meminfo_bytes("MemAvailable") - _HEADROOM_BYTES
    if need > available:
        return f"skipped (needs ~{need / _GIB:.1f} GiB, {available / _GIB:.1f} GiB free)"
    return None


def _watch(cmd: list[str], args: argparse.Namespace) -> tuple[str | None, str]:
    """Run a worker, killing it past the memory limit or the time allowance: (status or None, stdout)."""
    allowance = 5 * args.budget + 300  # compilation, warm-up and the timed calls of a slow configuration
    limit_kib = args.limit_gib * _GIB / 1024
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_device_env(args.device)
    )
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
    return status, stdout


def run_config(method: str, m: int, args: argparse.Namespace) -> dict:
    """One row: the worker's result (bench_worker.py, or bench_nt.py in the NT venv) or a status."""
    widths = layer_widths(m)
    row = {"method": method, "m": m, "widths": widths, "params": n_params(widths)}
    row["est_gib"] = estimate_bytes(method, widths) / _GIB
    status = _memory_gate(method, widths, args)
    if status:
        return {**row, "status": status}
    if method == NT:
        job = nt_job(widths, args)
        cmd = [str(args.nt_python), bench_nt.__file__, json.dumps(job)]
    else:
        cmd = [sys.executable, str(WORKER), json.dumps([method, m, args.repeats, args.budget, args.seed])]
    status, stdout = _watch(cmd, args)
    if status:
        return {**row, "status": status}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            row.update(json.loads(line[len("RESULT ") :]))
    if method == NT:
        row.update(nt_summary(row))
    return {**row, "status": "ok"}


# ----------------------------------------------------------------------------------------------
# neural-tangents (bench_nt.py)
# ----------------------------------------------------------------------------------------------


def nt_job(widths: list[int], args: argparse.Namespace, check: str | None = None) -> dict:
    """The NT worker's input: the same inputs, widths and ReLU at the EOC (sigma^2 = 2) as ntk-eoc's."""
    x = sphere_points(N_POINTS, INPUT_DIM)
    job = {"widths": widths, "x": x.tolist(), "sigma": 2**0.5, "seed": args.seed}
    return {**job, "repeats": args.repeats, "budget": args.budget, "check": check}


def nt_summary(row: dict) -> dict:
    """Per-draw statistics of the NT worker's times (one draw per call)."""
    times = row.pop("times_s")
    return {**summarize(times), "times_ms": [1e3 * t for t in times], "draws_per_call": 1}


def check_nt(args: argparse.Namespace, m: int) -> float:
    """Max relative difference between neural-tangents' kernel (/ n, the NTK matrix's 1/n) and
    ntk_eoc.empirical_ntk on the same weights (NT's W_k transposed)."""
    import tempfile

    import jax.numpy as jnp
    import numpy as np

    import ntk_eoc

    widths = layer_widths(m)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "nt_check.npz")
        job = {**nt_job(widths, args, check=path), "repeats": 1, "implementations": [3]}
        result = bench_nt.run_worker(args.nt_python, job, _device_env(args.device), timeout=600)
        if result["status"] != "ok":
            raise RuntimeError(f"neural-tangents check: {result['status']}")
        saved = np.load(path)
        weights = [jnp.asarray(saved[f"arr_{k}"]) for k in range(len(widths) - 1)]
        nt_kernel = saved["kernel"].transpose(0, 2, 1, 3).reshape(N_POINTS * OUTPUT_DIM, -1) / N_POINTS
    x = jnp.asarray(sphere_points(N_POINTS, INPUT_DIM), jnp.float32)
    ours = np.asarray(ntk_eoc.empirical_ntk(weights, x, ntk_eoc.Activation.named("relu")))
    return float(np.abs(ours - nt_kernel).max() / np.abs(ours).max())


def machine(device: str | None) -> dict:
    """CPU, load, versions and the devices JAX sees (with JAX_PLATFORMS=device when given)."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    probe = "import jax; print(jax.__version__); print(jax.devices())"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=_device_env(device))
    version, devices = ([*out.stdout.strip().splitlines(), "?", "?"])[:2]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "jax": version,
        "devices": devices,
        "python": platform.python_version(),
        "load": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny grid (m = 32; conditioned also m = 128), < 1 min")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"CSV output (default {RESULTS})")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per configuration (default 5)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the grid this many times, pooling each configuration's timed calls (default 1)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds of timed calls per configuration; past it, stop after 3 calls (default 60)",
    )
    p.add_argument("--limit-gib", type=float, default=16.0, help="memory limit per configuration (default 16)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), help="default: all three")
    p.add_argument("--ms", nargs="+", type=int, help=f"base widths for all methods (default {DEFAULT_MS})")
    p.add_argument("--big-ms", nargs="*", type=int, help=f"extra base widths, conditioned only ({DEFAULT_BIG_MS})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--device",
        help="JAX platform for every worker (JAX_PLATFORMS: cpu, cuda, tpu); default: whatever JAX sees",
    )
    p.add_argument(
        "--neural-tangents",
        action="store_true",
        help=f"also time neural-tangents {bench_nt.NT_VERSION} (jax {bench_nt.NT_JAX}) at every m of --ms, "
        "in its own venv (created on first use)",
    )
    p.add_argument(
        "--nt-venv",
        type=Path,
        help=f"its venv (default {bench_nt.DEFAULT_VENV}, or {bench_nt.DEFAULT_VENV}-cuda with --device cuda/gpu)",
    )
    args = p.parse_args(argv)
    if args.repeats < 1 or args.rounds < 1:
        p.error("--repeats and --rounds must be >= 1")
    if args.ms is None:
        args.ms = list(QUICK_MS if args.quick else DEFAULT_MS)
    if args.big_ms is None:
        args.big_ms = list(QUICK_BIG_MS if args.quick else DEFAULT_BIG_MS)
    return args


def _grid(args: argparse.Namespace) -> list[tuple[str, int]]:
    grid = [(meth, m) for m in args.ms for meth in [*args.methods, *([NT] if args.neural_tangents else [])]]
    if "conditioned" in args.methods:
        grid += [("conditioned", m) for m in args.big_ms if m not in args.ms]
    return grid


def run_rounds(args: argparse.Namespace) -> list[list[dict]]:
    """Every configuration's rows over ``--rounds`` rounds of the grid (the --big-ms ones: the first round
    only), round after round so that a change of the machine's load reaches every method alike."""
    grid = _grid(args)
    results: list[list[dict]] = [[] for _ in grid]
    for round_index in range(args.rounds):
        for k, (method, m) in enumerate(grid):
            if round_index and m in args.big_ms and m not in args.ms:
                continue
            start = time.monotonic()
            row = run_config(method, m, args)
            results[k].append(row)
            detail = f"{row['median_ms']:.4g} ms/draw" if row["status"] == "ok" else row["status"]
            where = f"round {round_index + 1}/{args.rounds}"
            print(f"  {method:15s} m={m:<7d} {detail}  [{time.monotonic() - start:.0f} s, {where}]", flush=True)
    return results


def _prepare(args: argparse.Namespace) -> None:
    """Checks before the grid: the baselines against ntk_eoc.empirical_ntk on the same weights."""
    if "jacobian" in args.methods:
        err = check_jacobian(layer_widths(min(args.ms)))
        print(f"# jacobian baseline vs ntk_eoc.empirical_ntk (same weights): max rel. diff {err:.1e}", flush=True)
    if args.neural_tangents:
        cuda = (args.device or "") in ("cuda", "gpu")
        venv = args.nt_venv or bench_nt.DEFAULT_VENV.with_name(bench_nt.DEFAULT_VENV.name + ("-cuda" if cuda else ""))
        args.nt_python = bench_nt.ensure_venv(venv, cuda=cuda, log=lambda s: print(s, flush=True))
        err = check_nt(args, min(args.ms))
        print(f"# neural-tangents vs ntk_eoc.empirical_ntk (same weights): max rel. diff {err:.1e}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device:
        os.environ["JAX_PLATFORMS"] = args.device  # this process's own checks too
    info = machine(args.device)
    print(
        f"# n={N_POINTS}, m_0={INPUT_DIM}, depth={DEPTH}, {SCHEDULE} schedule, m_l={OUTPUT_DIM}, relu, float32; "
        f"{info['nproc']} x {info['cpu']}, jax {info['jax']}, devices {info['devices']}, load {info['load']}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}",
        flush=True,
    )
    _prepare(args)
    t0 = time.monotonic()
    rows = [merge_rounds(rounds) for rounds in run_rounds(args)]
    add_ratios(rows)
    print()
    print(format_table(rows))
    print(
        "\nms/draw: wall time of one call / B draws (weights drawn included; compile excluded). floor ms: "
        "the draw's N(0,1) numbers alone, one jitted call.\ncompile s: first call - median call. peak MiB: "
        "subprocess peak RSS; delta MiB: peak - RSS after import; model MiB: B x cost.draw_bytes.\nload: "
        "1-min load average after the row (the largest over rounds). vs cond.: ms/draw / conditioned's. NT / this: "
        "neural-tangents' "
        "ms/draw / this ms/draw, same m."
    )
    print(f"# total {time.monotonic() - t0:.0f} s, load at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    write_csv(rows, args.out, info)
    print(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
