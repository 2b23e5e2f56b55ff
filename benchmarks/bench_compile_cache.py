"""What JAX's persistent compilation cache saves per sampling job.

Each job is what rule `sample` runs: ``python -m ntk_eoc.pipeline.stages.sample`` in a fresh process,
with the spec the workflow computes (``ntk_eoc.pipeline.plan.Plan.jobs``). Every job runs in three
modes, ``--repeats`` times each, interleaved:

  off   no persistent cache (``JAX_COMPILATION_CACHE_DIR`` unset)
  cold  an empty cache directory: compiles and writes the cache
  warm  the directory that the cold run just filled: loads the compiled program

with the same settings as the workflow (``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0``,
``JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0``). Columns (medians over the repeats, seconds):

  process    wall time of the whole job process: interpreter and JAX start-up, reading the dataset,
             sampling, writing the store
  sampling   the store's ``wall_time_s``: all draws of the block, the first one paying compilation
  first      sampling minus (draws - 1) x ``seconds_per_draw``: the first draw, compilation (or the cache
             load) included

and the saving of warm against cold per job: on the first draw (what compilation costs) and on the whole
process. The process times include everything else the machine does: measure on a quiet machine.

Usage:
    .venv/bin/python benchmarks/bench_compile_cache.py               # ~4-7 min on 2 cores
    .venv/bin/python benchmarks/bench_compile_cache.py --repeats 5 --out benchmarks/results/cache.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "compile_cache.csv"
EXPERIMENT = "demo"
# Representative sampling jobs of the demo experiment, by network (part of the sample key); each samples
# the demo's base widths 8..256 in one job of 128 draws.
JOBS = (
    "relu__quadratic__depth~2__",
    "relu__quadratic__depth~4__",
    "abs__constant__depth~4__",
    "relu__quadratic__depth~8__",
)
MODES = ("off", "cold", "warm")
CACHE_ENV = (
    "JAX_COMPILATION_CACHE_DIR",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES",
)


@dataclass(frozen=True)
class Job:
    run: str
    base_width: str  # the job's base widths, w1-w2-...
    layer_widths: tuple[int, ...]
    draws: int
    params: str  # the JSON --spec of the sampling stage


@dataclass(frozen=True)
class Timing:
    process_s: float
    sampling_s: float
    first_draw_s: float


def compose_jobs(workdir: Path) -> tuple[list[Job], Path]:
    """The first sampling job of each network of JOBS, from the workflow's plan (its spec is the job's
    params), and the dataset store they read (written here)."""
    from ntk_eoc.pipeline.plan import Plan

    config = {
        "experiment": EXPERIMENT, "overrides": [], "sweep": None, "hydra_config_dir": str(ROOT / "config" / "hydra"),
        "hydra_config_name": "config", "results_dir": str(workdir), "jax_cache_dir": "",
    }  # fmt: skip
    plan = Plan(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")
    jobs, datasets = [], set()
    for network in JOBS:
        job = next(j for j in plan.jobs["sample"].values() if network in j.spec.key)
        start, stop = (int(v) for v in job.output.rsplit("draws_", 1)[1].removesuffix(".zarr").split("-"))
        widths = job.spec.architectures[-1].widths
        group = "-".join(map(str, job.spec.base_widths))
        jobs.append(Job(job.spec.key.split("/")[1], group, widths, stop - start, job.spec.to_json()))
        datasets.add(job.inputs["dataset"])
    if len(datasets) != 1:
        raise RuntimeError(f"the jobs must share one dataset, got {datasets}")
    dataset = workdir / "dataset.zarr"
    spec = plan.jobs["dataset"][datasets.pop()].spec.to_json()
    cmd = [sys.executable, "-m", "ntk_eoc.pipeline.stages.dataset", "--spec", spec, "--output", str(dataset)]
    subprocess.run(cmd, check=True, capture_output=True)
    return jobs, dataset


def run_job(job: Job, dataset: Path, output: Path, cache_dir: Path | None) -> Timing:
    """One sampling job in a fresh process; its timings."""
    from ntk_eoc.storage.store import open_store

    env = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    if cache_dir is not None:
        env |= {CACHE_ENV[0]: str(cache_dir), CACHE_ENV[1]: "0", CACHE_ENV[2]: "0"}
    cmd = [sys.executable, "-m", "ntk_eoc.pipeline.stages.sample", "--spec", job.params, "--dataset", str(dataset)]
    cmd += ["--draws", f"0:{job.draws}", "--output", str(output)]
    began = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    process = time.perf_counter() - began
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}")
    store = open_store(output)
    sampling = float(store.attrs["wall_time_s"])
    first = sampling - (job.draws - 1) * float(store["seconds_per_draw"].sum())  # first draw of every width
    return Timing(process, sampling, first)


def measure(jobs: list[Job], dataset: Path, workdir: Path, repeats: int) -> dict[tuple[int, str], list[Timing]]:
    """Timings per (job index, mode); the modes of one repeat run back to back."""
    timings: dict[tuple[int, str], list[Timing]] = {}
    for rep in range(repeats):
        for index, job in enumerate(jobs):
            cache = workdir / f"cache_{index}_{rep}"
            cache.mkdir()
            for mode in MODES:
                output = workdir / f"out_{index}_{rep}_{mode}.zarr"
                timing = run_job(job, dataset, output, None if mode == "off" else cache)
                timings.setdefault((index, mode), []).append(timing)
                print(f"  repeat {rep + 1}/{repeats} job {index + 1}/{len(jobs)} {mode:4s} {timing.process_s:6.2f} s")
    return timings


def _median(values: list[float]) -> float:
    return statistics.median(values)


def table(jobs: list[Job], timings: dict[tuple[int, str], list[Timing]]) -> tuple[list[dict], str]:
    """CSV rows and the Markdown table."""
    rows = []
    for index, job in enumerate(jobs):
        row = {
            "run": job.run,
            "base_width": job.base_width,
            "layer_widths": "/".join(map(str, job.layer_widths)),
            "draws": job.draws,
            "repeats": len(timings[(index, "off")]),
        }
        for mode in MODES:
            runs = timings[(index, mode)]
            row[f"{mode}_process_s"] = _median([t.process_s for t in runs])
            row[f"{mode}_sampling_s"] = _median([t.sampling_s for t in runs])
            row[f"{mode}_first_draw_s"] = _median([t.first_draw_s for t in runs])
        row["saved_process_s"] = row["cold_process_s"] - row["warm_process_s"]
        row["saved_first_draw_s"] = row["cold_first_draw_s"] - row["warm_first_draw_s"]
        row["saved_process_pct"] = 100 * row["saved_process_s"] / row["cold_process_s"]
        rows.append(row)
    head = (
        "| job (run, m) | widths | draws | first draw s: off / cold / warm | compile saved s "
        "| process s: off / cold / warm | process saved s (%) |"
    )
    lines = [head, "|" + "---|" * 7]
    for row in rows:
        short = row["run"].replace("activation~", "").replace("__schedule~", " ").replace("__depth~", " l=")
        short = short.replace("__output_dim~", " m_l=")
        first = " / ".join(f"{row[f'{m}_first_draw_s']:.2f}" for m in MODES)
        proc = " / ".join(f"{row[f'{m}_process_s']:.2f}" for m in MODES)
        saved = f"{row['saved_process_s']:.2f} ({row['saved_process_pct']:.0f}%)"
        lines.append(
            f"| {short}, m={row['base_width']} | {row['layer_widths']} | {row['draws']} | {first} "
            f"| {row['saved_first_draw_s']:.2f} | {proc} | {saved} |"
        )
    return rows, "\n".join(lines)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--repeats", type=int, default=3, help="runs of each job in each mode (default 3)")
    cli.add_argument("--out", type=Path, default=RESULTS, help=f"CSV path (default {RESULTS})")
    args = cli.parse_args()
    load_before = os.getloadavg()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_cache_") as tmp:
        workdir = Path(tmp)
        jobs, dataset = compose_jobs(workdir)
        timings = measure(jobs, dataset, workdir, args.repeats)
    rows, text = table(jobs, timings)
    load_after = os.getloadavg()
    import jax

    print()
    print(text)
    print(
        f"\n{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"jax {jax.__version__}; load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)}, "
        f"after {'/'.join(f'{x:.2f}' for x in load_after)}; {time.perf_counter() - began:.0f} s in total"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "load1_before", "load1_after"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "load1_before": load_before[0], "load1_after": load_after[0]})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
