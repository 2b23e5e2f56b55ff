"""The tiny experiment through a real one-node SLURM cluster, against the same run on the local machine.

The cluster is started by `.ci/slurm/start-local-slurm.sh` (Debian/Ubuntu packages, root, about 25 s on a
fresh machine) and stopped after the module by `.ci/slurm/stop-local-slurm.sh`, unless it was already up.
Every snakemake call is bounded by `timeout -k 10` because the SLURM plugin can wait forever when its
status command stops answering.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from workflow_helpers import ROOT, SNAKEMAKE, Project, copy_workflow

from ntk_eoc.storage.store import open_store

SLURM_SCRIPTS = ROOT / ".ci" / "slurm"
RUN = "activation~relu__schedule~quadratic"
# One run, one base width, 4 draws in blocks of 2: dataset, 2 sampling jobs, limit and concentration on SLURM.
CONFIG = (
    "experiment=test",
    'sweep=["activation=relu", "schedule=quadratic"]',
    'overrides=["base_widths=[8]"]',
    f"jax_cache_dir={ROOT / '.jax_cache'}",
)
PLAN = Project(ROOT).plan(CONFIG)
TARGETS = (PLAN.path("concentration", concentration_key=PLAN.runs[RUN].concentration_key),)
SAMPLES = PLAN.sample_paths(PLAN.runs[RUN])
EXPECTED_JOBS = {"dataset": 1, "sample": 2, "limit": 1, "concentration": 1}
# The cluster of .ci/slurm: partition `debug`; `root` is an account of its accounting database.
CLUSTER_RESOURCES = ("slurm_partition=debug", "slurm_account=root")
# Guard against a hung plugin only (it ignores SIGTERM when sacct breaks); never reached by a passing run.
HANG_GUARD_S = 900
# Timings legitimately differ between two runs of the same job (another process, a differently loaded
# machine): the attributes `created`, `wall_time_s`, `sampling_wall_time_s`, `seconds_per_draw` and the
# sample variable `seconds_per_draw`, i.e. every attribute or variable whose name is `created`, contains
# `time` or `seconds`, or ends in `_s`. Those are compared for presence, dtype and shape only; every other
# variable bit for bit and every other attribute (config, versions, git commit, device, dtype, sampler
# method, seed, ids) for equality.
VOLATILE = re.compile(r"^created$|time|seconds|_s$")


def _skip_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux (the cluster is started from Debian packages)"
    if os.geteuid() != 0:
        return "needs root to install and start the SLURM daemons"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "needs snakemake-executor-plugin-slurm (pip install -e '.[slurm]')"
    if shutil.which("timeout") is None:
        return "needs coreutils `timeout` to bound the SLURM run"
    if shutil.which("apt-get") is None and shutil.which("sbatch") is None:
        return "needs apt-get (to install SLURM) or an installed SLURM"
    return None


def _cluster_is_up() -> bool:
    if shutil.which("scontrol") is None:
        return False
    out = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return out.returncode == 0 and "UP" in out.stdout


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[None]:
    """A running one-node cluster; stopped at teardown (also after a failure) if this fixture started it."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    was_up = _cluster_is_up()
    try:
        start = subprocess.run(["bash", str(SLURM_SCRIPTS / "start-local-slurm.sh")], capture_output=True, text=True)
        if start.returncode != 0:
            pytest.fail(f"start-local-slurm.sh failed ({start.returncode}):\n{start.stdout}\n{start.stderr}")
        yield
    finally:
        if not was_up:
            subprocess.run(["bash", str(SLURM_SCRIPTS / "stop-local-slurm.sh")], capture_output=True, text=True)


def _snakemake(root: Path, *args: str) -> str:
    cmd = ["timeout", "-k", "10", str(HANG_GUARD_S), SNAKEMAKE, *args, "--config", *CONFIG, "--", *TARGETS]
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def runs(slurm_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(local copy, SLURM copy, SLURM run's output): the same targets computed both ways."""
    base = tmp_path_factory.mktemp("slurm")
    local, cluster = copy_workflow(base / "local"), copy_workflow(base / "cluster")
    _snakemake(local, "--workflow-profile", "profiles/local")
    log = _snakemake(
        cluster,
        "--profile",
        "profiles/slurm",
        "--default-resources",
        *CLUSTER_RESOURCES,
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
    )
    return local, cluster, log


def _stores(root: Path) -> list[str]:
    results = root / "results" / "stores"
    return sorted(str(p.relative_to(root)) for p in results.glob("**/*.zarr") if (p / "zarr.json").exists())


def _assert_same_store(a: xr.Dataset, b: xr.Dataset, name: str) -> None:
    assert set(a.variables) == set(b.variables), name
    for var in a.variables:
        va, vb = a[var].values, b[var].values
        assert (va.dtype, va.shape, a[var].dims) == (vb.dtype, vb.shape, b[var].dims), f"{name}:{var}"
        if not VOLATILE.search(str(var)):
            assert va.tobytes() == vb.tobytes(), f"{name}:{var} differs"
    assert set(a.attrs) == set(b.attrs), name
    stable = {key for key in a.attrs if not VOLATILE.search(key)}
    assert {k: a.attrs[k] for k in stable} == {k: b.attrs[k] for k in stable}, name


@pytest.mark.slow
def test_slurm_jobs_ran_on_the_cluster(runs):
    _, cluster, log = runs
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", log)
    rules = [re.search(r"/slurm_logs/rule_(\w+)/", path).group(1) for _, path in submitted]
    assert {rule: rules.count(rule) for rule in set(rules)} == EXPECTED_JOBS
    for _, path in submitted:  # the job's own log, written by SLURM on the node
        assert Path(path).is_relative_to(cluster) and "--executor slurm-jobstep" in Path(path).read_text()
    ids = ",".join(job_id for job_id, _ in submitted)
    acct = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", ids, "-o", "JobID,State,Partition,Account"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = sorted(line.split("|") for line in acct.stdout.split())
    assert rows == sorted([job_id, "COMPLETED", "debug", "root"] for job_id, _ in submitted)


@pytest.mark.slow
def test_slurm_and_local_stores_are_bit_identical(runs):
    local, cluster, _ = runs
    names = _stores(local)
    assert names == _stores(cluster)
    assert [n.split("/")[2] for n in names] == ["concentration", "datasets", "limit", "samples", "samples"]
    for name in names:
        _assert_same_store(open_store(local / name), open_store(cluster / name), name)
    kernels = np.concatenate([open_store(cluster / p)["K"].values for p in SAMPLES], axis=1)
    assert kernels.shape == (1, 4, 6, 6) and kernels.dtype == np.float32
    assert np.all(np.isfinite(kernels)) and np.any(kernels != 0)


@pytest.mark.slow
def test_gpu_profile_asks_slurm_for_one_gpu_per_sampling_job(runs, tmp_path):
    """The cluster has no GPU, so sbatch refuses the request: the refusal shows the flag was passed."""
    _, cluster, _ = runs
    gpu = copy_workflow(tmp_path / "gpu")
    shutil.copytree(cluster / "results/stores/datasets", gpu / "results/stores/datasets")
    sample = SAMPLES[0]
    cmd = ["timeout", "-k", "10", str(HANG_GUARD_S), SNAKEMAKE, "--profile", "profiles/slurm-gpu", "--verbose"]
    cmd += ["--default-resources", *CLUSTER_RESOURCES, "--slurm-init-seconds-before-status-checks", "2"]
    out = subprocess.run([*cmd, "--config", *CONFIG, "--", sample], cwd=gpu, capture_output=True, text=True)
    text = out.stdout + out.stderr
    assert out.returncode == 1
    calls = [line for line in text.splitlines() if line.startswith("sbatch call: ")]
    assert len(calls) == 1 and " --gpus=1 " in calls[0] and "--comment 'rule_sample_" in calls[0]
    assert "Invalid generic resource (gres) specification" in text


def test_gpu_profile_is_the_slurm_profile_plus_one_gpu_per_sampling_job():
    slurm = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    gpu = yaml.safe_load((ROOT / "profiles/slurm-gpu/config.yaml").read_text())
    assert gpu["set-resources"]["sample"].pop("gpu") == 1
    assert gpu == slurm
    assert slurm["executor"] == "slurm" and set(slurm["default-resources"]) == {"slurm_partition", "slurm_account"}
    rule_files = "".join(path.read_text() for path in (ROOT / "workflow/rules").glob("*.smk"))
    rules = set(re.findall(r"^rule (\w+):", rule_files, re.M))
    assert rules - {"run_config"} <= set(slurm["set-resources"])  # run_config is a local rule
    for rule, res in slurm["set-resources"].items():
        assert res["runtime"] > 0 and res["cpus_per_task"] >= 1, rule
