"""Time per call of the LAPACK routes to lambda_min of a symmetric PSD matrix, in float64.

The matrix is NTK-layer-like: the Hadamard product of two Wishart Grams (A A^T / p) o (B B^T / q),
A: N x 2N, B: N x 2N, full rank. Routes (each returns lambda_min; the values-only ones could return
every eigenvalue at the same cost):

  np_eigh          numpy.linalg.eigh: all eigenvalues and eigenvectors (the baseline)
  np_eigvalsh      numpy.linalg.eigvalsh: all eigenvalues
  scipy_evr_sub    scipy.linalg.eigh(eigvals_only=True, subset_by_index=[0, 0], driver="evr")
  scipy_evx_sub    the same with driver="evx"
  scipy_evr_vals   scipy.linalg.eigh(eigvals_only=True, driver="evr"): all eigenvalues
  scipy_evd_vals   the same with driver="evd"
  scipy_ev_vals    the same with driver="ev"
  min_eigenvalue   ntk_eoc.math.eigen.min_eigenvalue (checks + symmetrisation + scipy_evr_sub)
  extreme_2calls   scipy_evr_sub for index 0 and index N-1: (min, max) in two calls
  extreme_eigenvalues  ntk_eoc.math.eigen.extreme_eigenvalues (one values-only evr call)

Repeats run round-robin over the routes (in a fixed shuffled order per repeat) so that a change of
machine load hits every route alike; the table shows the median, min and max over repeats. err/ulpN
is |lambda_min - lambda_min(np_eigh)| / (eps N lambda_max): O(1) means exact to rounding.

Timings on a shared machine: with 2 BLAS threads on 2 busy cores, OpenBLAS threads wait on each other
and a call can take 10-100x its quiet time; ``--threads 1`` gives stable numbers under load.

Usage:
    .venv/bin/python benchmarks/bench_min_eigen.py                # N = 500, 1000, 2000, 3000
    .venv/bin/python benchmarks/bench_min_eigen.py --quick        # N = 200, 400
    .venv/bin/python benchmarks/bench_min_eigen.py --threads 1    # one BLAS thread (stable under load)
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg

from ntk_eoc.math.eigen import extreme_eigenvalues, min_eigenvalue

RESULTS = Path(__file__).resolve().parent / "results" / "min_eigen.csv"
DEFAULT_NS = (500, 1000, 2000, 3000)
QUICK_NS = (200, 400)
CHOSEN = "min_eigenvalue"


def _sub(driver: str) -> Callable[[np.ndarray], float]:
    def run(k: np.ndarray) -> float:
        return float(scipy.linalg.eigh(k, eigvals_only=True, subset_by_index=[0, 0], driver=driver)[0])

    return run


def _vals(driver: str) -> Callable[[np.ndarray], float]:
    def run(k: np.ndarray) -> float:
        return float(scipy.linalg.eigh(k, eigvals_only=True, driver=driver)[0])

    return run


def _two_calls(k: np.ndarray) -> float:
    n = k.shape[0]
    scipy.linalg.eigh(k, eigvals_only=True, subset_by_index=[n - 1, n - 1], driver="evr")
    return float(scipy.linalg.eigh(k, eigvals_only=True, subset_by_index=[0, 0], driver="evr")[0])


ROUTES: dict[str, Callable[[np.ndarray], float]] = {
    "np_eigh": lambda k: float(np.linalg.eigh(k)[0][0]),
    "np_eigvalsh": lambda k: float(np.linalg.eigvalsh(k)[0]),
    "scipy_evr_sub": _sub("evr"),
    "scipy_evx_sub": _sub("evx"),
    "scipy_evr_vals": _vals("evr"),
    "scipy_evd_vals": _vals("evd"),
    "scipy_ev_vals": _vals("ev"),
    "min_eigenvalue": min_eigenvalue,
    "extreme_2calls": _two_calls,
    "extreme_eigenvalues": lambda k: extreme_eigenvalues(k)[0],
}


def _blas_info() -> list[dict]:
    """threadpoolctl's view of the loaded BLAS libraries (numpy and scipy each bundle an OpenBLAS)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"num_threads": -1}]
    return [lib for lib in threadpool_info() if lib.get("user_api") == "blas"] or [{"num_threads": -1}]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def ntk_like(n: int, seed: int) -> np.ndarray:
    """(A A^T / p) o (B B^T / q), A and B: n x 2n standard normal; symmetric PSD, full rank."""
    rng = np.random.default_rng([seed, n])
    a = rng.standard_normal((n, 2 * n))
    b = rng.standard_normal((n, 2 * n))
    k = (a @ a.T / a.shape[1]) * (b @ b.T / b.shape[1])
    return (k + k.T) / 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"N in {QUICK_NS} instead of {DEFAULT_NS}")
    parser.add_argument("--ns", type=int, nargs="+", help="matrix sizes (overrides --quick)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per route and N (default 3)")
    parser.add_argument(
        "--threads", type=int, help="BLAS threads (threadpoolctl; default: the libraries' own, = nproc)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"CSV path (default {RESULTS})")
    args = parser.parse_args()
    ns = tuple(args.ns) if args.ns else (QUICK_NS if args.quick else DEFAULT_NS)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
    threads = sorted({lib["num_threads"] for lib in _blas_info()})

    load_start = os.getloadavg()
    print(
        f"# python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"nproc {os.cpu_count()}, BLAS threads {threads}, {_cpu_model()}"
    )
    print(f"# loadavg at start (1, 5, 15 min): {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
    rows = []
    total = time.perf_counter()
    for n in ns:
        k = ntk_like(n, args.seed)
        eigvals = np.linalg.eigvalsh(k)
        ref, lam_max = float(np.linalg.eigh(k)[0][0]), float(eigvals[-1])
        unit = np.finfo(np.float64).eps * n * lam_max
        for route in ROUTES.values():  # warm-up (library loading, first-touch)
            route(k[:8, :8].copy())
        times: dict[str, list[float]] = {name: [] for name in ROUTES}
        values: dict[str, float] = {}
        order = list(ROUTES)
        rng = np.random.default_rng([args.seed, n, 1])
        for _ in range(args.repeats):
            rng.shuffle(order)
            for name in order:
                start = time.perf_counter()
                values[name] = ROUTES[name](k)
                times[name].append(time.perf_counter() - start)
        load = os.getloadavg()[0]
        medians = {name: statistics.median(t) for name, t in times.items()}
        for name in ROUTES:
            rows.append(
                {
                    "n": n,
                    "route": name,
                    "median_s": medians[name],
                    "min_s": min(times[name]),
                    "max_s": max(times[name]),
                    "repeats": args.repeats,
                    "speedup_vs_np_eigh": medians["np_eigh"] / medians[name],
                    "speedup_vs_np_eigvalsh": medians["np_eigvalsh"] / medians[name],
                    "lambda_min": values[name],
                    "err_over_eps_n_lammax": abs(values[name] - ref) / unit,
                    "lambda_max": lam_max,
                    "loadavg_1min": load,
                    "blas_threads": ",".join(map(str, threads)),
                }
            )
        print(f"# N = {n} done, loadavg {load:.2f}", flush=True)

    load_end = os.getloadavg()
    header = "| N | route | median s | min-max s | vs np_eigh | vs np_eigvalsh | err/ulpN | load |"
    print()
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        print(
            f"| {r['n']} | {r['route']} | {r['median_s']:.4f} | {r['min_s']:.4f}-{r['max_s']:.4f} | "
            f"{r['speedup_vs_np_eigh']:.2f}x | {r['speedup_vs_np_eigvalsh']:.2f}x | "
            f"{r['err_over_eps_n_lammax']:.2g} | {r['loadavg_1min']:.2f} |"
        )
    print()
    for n in ns:
        r = next(r for r in rows if r["n"] == n and r["route"] == CHOSEN)
        print(
            f"# N = {n}: {CHOSEN} {r['median_s']:.4f} s, {r['speedup_vs_np_eigh']:.2f}x faster than np eigh, "
            f"{r['speedup_vs_np_eigvalsh']:.2f}x vs np eigvalsh"
        )
    print(f"# loadavg at end (1, 5, 15 min): {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    print(f"# total {time.perf_counter() - total:.1f} s")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"# wrote {args.out}")


if __name__ == "__main__":
    main()
