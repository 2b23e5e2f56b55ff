# Shared state of the workflow: config validation, Hydra composition of the runs, paths, wildcard
# constraints, params functions and the registry of final targets. No rules here.
#
# Rule files of later stages use: RUNS, RESOLVED, EXPERIMENT, STUDY, result(), log_path(), bench_path(),
# gathered_store(), limit_store(), dataset_store(), run_section() and FINAL_TARGETS (append to it,
# for the stages of the experiment's STUDY only).

import json
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod

from ntk_eoc.config import ConfigError, compose_runs, validate_workflow_config

try:
    validate_workflow_config(
        config, workflow.source_path("../schemas/config.schema.yaml")
    )
except ConfigError as err:
    raise WorkflowError(str(err)) from None

EXPERIMENT = config["experiment"]
RESULTS = f"{config['results_dir']}/{EXPERIMENT}"
LOGS = f"logs/{EXPERIMENT}"

try:
    RUNS, RESOLVED = compose_runs(
        str(Path(config["hydra_config_dir"]).resolve()),
        config["hydra_config_name"],
        EXPERIMENT,
        overrides=config["overrides"],
        sweep=config.get("sweep"),
    )
except ConfigError as err:
    raise WorkflowError(str(err)) from None

# Jobs run `python -m ntk_eoc.pipeline.<stage>` with the interpreter running Snakemake; with
# --sdm conda the environment's own python is used instead.
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    shell.prefix(
        f'set -euo pipefail; export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; '
    )
# JAX reads these itself: the persistent compilation cache shared by all sampling jobs.
if config["jax_cache_dir"]:
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR", str(Path(config["jax_cache_dir"]).resolve())
    )
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

# The experiment's study (one per experiment, checked by compose_runs): "limit" runs the sampling ->
# gather -> limit -> concentration/spectrum -> figures targets, "min_eigen" the min_eigen targets.
STUDY = next(iter(RUNS.values())).study

DATASETS = {run.dataset_id: run for run in RUNS.values()}
LIMITS = {run.limit_id: run for run in RUNS.values()}


def _alternation(names):
    return "|".join(re.escape(name) for name in sorted(names))


wildcard_constraints:
    run=_alternation(RUNS),
    dataset_id=_alternation(DATASETS),
    limit_id=_alternation(LIMITS),
    width=r"\d+",
    start=r"\d+",
    stop=r"\d+",


def result(path):
    """Path under results/<experiment>/."""
    return f"{RESULTS}/{path}"


def log_path(path):
    """Path under logs/<experiment>/."""
    return f"{LOGS}/{path}"


def bench_path(path):
    """Path under results/<experiment>/benchmarks/."""
    return f"{RESULTS}/benchmarks/{path}"


def dataset_store(run_id):
    return result(f"datasets/{RUNS[run_id].dataset_id}.zarr")


def limit_store(run_id):
    return result(f"limit/{RUNS[run_id].limit_id}.zarr")


def gathered_store(run_id):
    return result(f"gathered/{run_id}.zarr")


def block_stores(run_id):
    """Every sample store of a run: all base widths, all draw blocks."""
    run = RUNS[run_id]
    return [
        result(f"samples/{run_id}/m~{width}/draws_{start}-{stop}.zarr")
        for width in run.base_widths
        for start, stop in run.blocks()
    ]


def _json(tree):
    return json.dumps(tree, sort_keys=True)


def run_section(section):
    """Params function: the JSON of one analysis section of the run's config (for later stages)."""

    def params(wildcards):
        return _json(RESOLVED[wildcards.run].get(section, {}))

    return params


# --- params functions of the stages in this repository -------------------------------------


def dataset_params(wildcards):
    return _json(DATASETS[wildcards.dataset_id].dataset)


def sampling_params(wildcards):
    return _json(RUNS[wildcards.run].sampling_params(int(wildcards.width)))


def sample_mem_mb(wildcards):
    return RUNS[wildcards.run].sampling_mem_mb(int(wildcards.width))


def gather_params(wildcards):
    run = RUNS[wildcards.run]
    core = {k: v for k, v in run.core_dict().items() if k not in run.analysis}
    ids = {
        "experiment": EXPERIMENT,
        "run": wildcards.run,
        "dataset_id": run.dataset_id,
        "limit_id": run.limit_id,
    }
    return _json({"config": core, **ids})


def limit_params(wildcards):
    return _json(LIMITS[wildcards.limit_id].limit_params())


def resolved_params(wildcards):
    return _json(RESOLVED[wildcards.run])


def sample_dataset(wildcards):
    return dataset_store(wildcards.run)


def limit_dataset(wildcards):
    return result(f"datasets/{LIMITS[wildcards.limit_id].dataset_id}.zarr")


def gather_inputs(wildcards):
    return block_stores(wildcards.run)


# --- final targets: every stage appends the outputs `rule all` must produce -----------------

FINAL_TARGETS = []


def final_targets(wildcards):
    return list(dict.fromkeys(FINAL_TARGETS))


def outputs_summary():
    """Where the outputs are: one line per output folder of the experiment."""
    folders = sorted(p for p in Path(RESULTS).iterdir() if p.is_dir())
    lines = [
        f"ntk-eoc: experiment {EXPERIMENT!r} is complete; outputs under {RESULTS}/:"
    ]
    lines += [f"  {p}/  ({sum(1 for _ in p.iterdir())} entries)" for p in folders]
    lines.append(f"  logs: {LOGS}/")
    return "\n".join(lines)
