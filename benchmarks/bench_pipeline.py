"""Wall time of a whole experiment from a cold start, and where the jobs spend it.

Copies the workflow into a fresh temporary folder (no results, no Snakemake metadata, an empty JAX
compilation cache unless ``--warm-cache``), runs ``snakemake --cores N --config experiment=<name>``, and
reports:

- the wall time of the run and the largest peak RSS of a job (``ru_maxrss`` of the children);
- per rule: jobs, total and mean job seconds (Snakemake's ``benchmark:`` files, column ``s``);
- for the sampling jobs, from their job-level timer (the stage's ``timing:`` log line): the share of the
  job's wall time spent drawing (compiled draws), compiling (the first draw of each shape) and writing,
  and what is left (interpreter start, imports, JAX start, reading the dataset): the fixed cost;
- the claims table's verdict counts.

Prints a table and appends one CSV row per run to ``benchmarks/results/pipeline.csv``.

Usage:
    .venv/bin/python benchmarks/bench_pipeline.py                         # the demo, 2 cores
    .venv/bin/python benchmarks/bench_pipeline.py --experiment concentration --cores 2
    .venv/bin/python benchmarks/bench_pipeline.py --experiment test --keep /tmp/run   # keep the folder
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.csv"
COPIED = ("Snakefile", "workflow", "config", "envs", "profiles")
TIMING = re.compile(r"timing: drawing ([\d.]+) s, compiling ([\d.]+) s, writing ([\d.]+) s")


def _copy(dest: Path) -> None:
    for name in COPIED:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)


def _job_seconds(results: Path) -> dict[str, list[tuple[Path, float]]]:
    """rule -> [(benchmark file, job seconds)] from every benchmark file under the results folder."""
    out: dict[str, list[tuple[Path, float]]] = defaultdict(list)
    for tsv in results.rglob("benchmarks/**/*.tsv"):
        rows = tsv.read_text().splitlines()
        if len(rows) < 2:
            continue
        seconds = float(rows[1].split("\t")[0])
        parts = tsv.relative_to(results).parts
        rule = parts[2] if parts[0] == "stores" else tsv.stem
        out[{"samples": "sample", "datasets": "dataset"}.get(rule, rule)].append((tsv, seconds))
    return out


def _sample_shares(results: Path, jobs: list[tuple[Path, float]]) -> dict[str, float]:
    """Seconds of the sampling jobs in drawing, compiling, writing and the rest, from their logs."""
    totals = Counter()
    for tsv, seconds in jobs:
        log = Path(str(tsv).replace("/benchmarks/", "/logs/")).with_suffix(".log")
        match = TIMING.search(log.read_text()) if log.is_file() else None
        if match is None:
            continue
        drawing, compiling, writing = map(float, match.groups())
        totals.update(job=seconds, drawing=drawing, compiling=compiling, writing=writing)
    totals["other"] = totals["job"] - totals["drawing"] - totals["compiling"] - totals["writing"]
    return dict(totals)


def _verdicts(view: Path) -> str:
    table = view / "tables" / "claims.csv"
    if not table.is_file():
        return ""
    with table.open() as handle:
        counts = Counter(row["verdict"] for row in csv.DictReader(handle))
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))


def run(experiment: str, cores: int, folder: Path, warm_cache: bool) -> dict[str, object]:
    _copy(folder)
    cache = (ROOT / ".jax_cache") if warm_cache else folder / ".jax_cache"
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--cores", str(cores)]
    cmd += ["--config", f"experiment={experiment}", f"jax_cache_dir={cache}"]
    env = dict(os.environ)
    if shutil.which("scontrol") and "SLURM_CONF" not in env:
        # SLURM client tools without a reachable controller make every Snakemake start wait ~9 s for
        # `scontrol` (the SLURM executor plugin's help text); a local run never uses SLURM.
        env["SLURM_CONF"] = os.devnull
        print("SLURM client tools found: SLURM_CONF=/dev/null for this local run (README: Troubleshooting)")
    began = time.perf_counter()
    out = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - began
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    jobs = _job_seconds(folder / "results")
    shares = _sample_shares(folder / "results", jobs.get("sample", []))
    return {
        "experiment": experiment,
        "cores": cores,
        "warm_cache": warm_cache,
        "wall_s": round(wall, 1),
        "peak_job_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "jobs": {rule: (len(v), sum(s for _, s in v)) for rule, v in sorted(jobs.items())},
        "sample": shares,
        "verdicts": _verdicts(folder / "results" / experiment),
        "load": os.getloadavg()[0],
    }


PARTS = ("drawing", "compiling", "writing", "other")
HEADER = ("experiment", "cores", "warm_cache", "wall_s", "peak_job_rss_mb", "sample_jobs", "sample_job_s")
HEADER += (*(f"{part}_s" for part in PARTS), "load", "machine")


def report(result: dict[str, object]) -> None:
    cache = "warm" if result["warm_cache"] else "cold"
    print(
        f"{result['experiment']}: {result['wall_s']} s wall on {result['cores']} cores (JAX cache {cache}), "
        f"peak job RSS {result['peak_job_rss_mb']} MB, load average at the end {result['load']:.2f}"
    )
    print(f"{'rule':<16}{'jobs':>6}{'job s':>10}{'mean s':>9}")
    for rule, (n, seconds) in result["jobs"].items():
        print(f"{rule:<16}{n:>6}{seconds:>10.1f}{seconds / n:>9.2f}")
    share = result["sample"]
    if share.get("job"):
        parts = ", ".join(f"{k} {100 * share[k] / share['job']:.0f}%" for k in PARTS)
        print(f"sampling jobs ({share['job']:.1f} s): {parts}")
    print(f"claims: {result['verdicts']}")


def _row(result: dict[str, object]) -> list[object]:
    share = result["sample"]
    n_sample = result["jobs"].get("sample", (0, 0.0))[0]
    fixed = [result[k] for k in ("experiment", "cores", "warm_cache", "wall_s", "peak_job_rss_mb")]
    times = [round(share.get(k, 0.0), 2) for k in ("job", *PARTS)]
    return [*fixed, n_sample, *times, round(result["load"], 2), platform.processor() or platform.machine()]


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--experiment", default="demo")
    cli.add_argument("--cores", type=int, default=2)
    cli.add_argument("--warm-cache", action="store_true", help="use the repository's .jax_cache (default: empty)")
    cli.add_argument("--keep", type=Path, help="run in this (new) folder and keep it")
    args = cli.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True)
        result = run(args.experiment, args.cores, args.keep, args.warm_cache)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = run(args.experiment, args.cores, Path(folder), args.warm_cache)
    report(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(HEADER)
        writer.writerow(_row(result))


if __name__ == "__main__":
    main()
