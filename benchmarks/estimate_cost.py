"""What an experiment's sampling costs, from per-draw times measured in a finished run.

The cost model of :mod:`ntk_eoc.pipeline.resources` (``draw_seconds``: flops of the chosen route per map
over a nominal flop rate) ranks draws by cost but is not a clock. This script calibrates it: it opens the
sample stores of a finished experiment (``--measured``: its results folder and experiment name), reads
each base width's ``seconds_per_draw`` (the job's compiled draws only: no compilation, start or writing),
and fits one factor, sum of measured / sum of model times (weighted by time, so the large draws that
dominate a big experiment set it), over the draws the model puts above ``--min-model-ms`` (below it a
draw is dispatch overhead, not flops). It then states, for the target experiment (``--experiment``):

- the draw-seconds of all its draws (sum over runs and base widths of draws x model x factor), in
  core-hours: the measured run ran ``--cores`` jobs side by side, one core each;
- its sampling jobs, and their fixed cost (``--job-overhead`` seconds each: process start, imports,
  compilation, writing; from ``bench_pipeline.py``);
- the wall time on ``--cores`` cores, and on a SLURM cluster with ``--slurm-slots`` one-CPU submissions
  at a time, bundled ``--group`` jobs of group ``kernels`` (sample, limit, spectrum) per submission as
  ``profiles/slurm`` does, each job also paying ``--parse-seconds`` for its own Snakemake process: the
  spread of minutes per submission over 300 random bundlings, and the wall (at least the longest
  submission);
- the largest single draw and job.

GPU: not estimated (a GPU's per-draw time must be measured; see ``benchmarks/README.md``).

Usage:
    .venv/bin/python benchmarks/estimate_cost.py --measured /tmp/conc/results concentration --experiment paper
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plan_of(experiment: str, results: Path | None = None):
    """The workflow's plan of an experiment, as ``snakemake --config experiment=<name>`` builds it."""
    import yaml

    from ntk_eoc.pipeline.plan import Plan

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config.update(experiment=experiment, hydra_config_dir=str(ROOT / "config" / "hydra"))
    if results is not None:
        config["results_dir"] = str(results)
    return Plan(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")


def measured_ratios(plan, min_model_s: float) -> list[tuple[str, int, float, float]]:
    """(sample key, base width, measured s/draw, model s/draw) of every complete sample store of a plan."""
    from ntk_eoc.pipeline.resources import draw_seconds
    from ntk_eoc.storage.store import open_store

    rows = []
    for run in plan.samples.values():
        for path in plan.sample_paths(run):
            if not Path(path).is_dir():
                continue
            ds = open_store(path)
            for m, seconds in zip(
                ds["base_width"].values.tolist(), ds["seconds_per_draw"].values.tolist(), strict=True
            ):
                model = draw_seconds(run.config, int(m))
                if model >= min_model_s:
                    rows.append((run.sample_key, int(m), float(seconds), model))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measured", nargs=2, metavar=("RESULTS", "EXPERIMENT"), required=True)
    parser.add_argument("--experiment", default="paper", help="experiment to estimate (default: paper)")
    parser.add_argument("--cores", type=int, default=2, help="cores of the measured run and of the laptop")
    parser.add_argument("--slurm-slots", type=int, default=100, help="one-CPU submissions running at once")
    parser.add_argument("--group", type=int, default=16, help="sampling jobs per SLURM submission (profile)")
    parser.add_argument("--parse-seconds", type=float, default=10.0, help="per job on SLURM: its own parse")
    parser.add_argument("--small-job", type=float, default=1.0, help="seconds of a limit or spectrum job")
    parser.add_argument("--job-overhead", type=float, default=3.0, help="fixed seconds per sampling job")
    parser.add_argument("--min-model-ms", type=float, default=20.0, help="fit only draws the model puts above")
    args = parser.parse_args(argv)

    from ntk_eoc.pipeline.resources import draw_seconds, width_groups

    rows = measured_ratios(plan_of(args.measured[1], Path(args.measured[0])), args.min_model_ms / 1e3)
    if not rows:
        sys.exit(f"--measured {' '.join(args.measured)}: no complete sample store above --min-model-ms")
    ratios = [seconds / model for _, _, seconds, model in rows]
    factor = sum(r[2] for r in rows) / sum(r[3] for r in rows)
    q = statistics.quantiles(ratios, n=10) if len(ratios) > 1 else [factor] * 9
    print(
        f"calibration: {len(rows)} (run, base width) pairs of {args.measured[1]} with model >= {args.min_model_ms} ms"
    )
    print(
        f"  factor = sum measured / sum model = {factor:.3g} (weighted by time; per pair: median"
        f" {statistics.median(ratios):.3g}, p10 {q[0]:.3g}, p90 {q[-1]:.3g})"
    )
    print(f"  {'run':60s} {'m':>6s} {'measured ms':>12s} {'model ms':>9s} {'ratio':>6s}")
    for key, m, seconds, model in sorted(rows, key=lambda r: -r[3])[:8]:
        print(f"  {key[-60:]:60s} {m:6d} {seconds * 1e3:12.1f} {model * 1e3:9.1f} {seconds / model:6.2f}")

    plan = plan_of(args.experiment)
    draw_s, job_seconds, longest_draw = 0.0, [], 0.0
    for run in plan.samples.values():
        cfg = run.config
        per_width = {m: factor * draw_seconds(cfg, m) for m in cfg.base_widths}
        draw_s += cfg.draws * sum(per_width.values())
        longest_draw = max(longest_draw, *per_width.values())
        job_seconds += [
            (stop - start) * sum(per_width[m] for m in group) + args.job_overhead
            for group in width_groups(cfg)
            for start, stop in cfg.blocks()
        ]
    jobs, longest_job = len(job_seconds), max(job_seconds)
    total = draw_s + jobs * args.job_overhead
    # A SLURM submission of group `kernels` holds --group jobs (sample, limit, spectrum) in no particular
    # order, each also paying --parse-seconds for its own Snakemake process: 300 random bundlings.
    kernels = [t + args.parse_seconds for t in job_seconds]
    kernels += [args.small_job + args.parse_seconds] * (len(plan.limits) + len(plan.spectra))
    rng, minutes, longest_submission = random.Random(0), [], []
    for _ in range(300):
        rng.shuffle(kernels)
        sums = [sum(kernels[i : i + args.group]) / 60 for i in range(0, len(kernels), args.group)]
        minutes += sums
        longest_submission.append(max(sums))
    q = statistics.quantiles(minutes, n=10)
    submission = statistics.median(longest_submission)
    slurm = max(total / args.slurm_slots / 60, submission)
    print(f"\n{args.experiment}: {len(plan.runs)} runs, {len(plan.samples)} sampled networks, {jobs} sampling jobs")
    print(f"  draws: {draw_s / 3600:.1f} core-hours; job overhead: {jobs * args.job_overhead / 3600:.1f} core-hours")
    print(f"  longest draw {longest_draw:.2f} s, longest sampling job {longest_job / 60:.1f} min")
    print(f"  wall on {args.cores} cores: {total / args.cores / 3600:.1f} h ({total / args.cores / 86400:.1f} days)")
    print(
        f"  SLURM: {math.ceil(len(kernels) / args.group)} `kernels` submissions of {args.group} jobs"
        f" ({jobs} sample, {len(plan.limits)} limit, {len(plan.spectra)} spectrum); minutes per submission"
        f" p10 {q[0]:.1f}, median {statistics.median(minutes):.1f}, p90 {q[-1]:.1f}, max {max(minutes):.1f}"
        f" (300 random bundlings); with {args.slurm_slots} one-CPU submissions at a time the wall is about"
        f" {slurm / 60:.1f} h (queueing not included)"
    )
    print("  one GPU: not estimated from CPU timings (measure bench_samplers.py on the GPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
