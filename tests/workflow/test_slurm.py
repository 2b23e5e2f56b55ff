"""The tiny experiment through a real one-node SLURM cluster, against the same run on the local machine.

Runs only when asked: ``NTK_EOC_SLURM_TESTS=1`` (``.ci/run`` sets it in CI), as root, with the Debian
packages slurmctld, slurmd, slurm-client and munge installed (``.ci/slurm/install.sh``; the test installs
nothing). The cluster lives in a temporary directory: its own ``slurm.conf`` (passed as ``SLURM_CONF`` to
the daemons, the clients and the snakemake run), munge key and socket, state, spool, pid files and logs,
on free TCP ports, so a cluster already running on the machine is untouched. Its daemons are children of
this process, stopped at the end of the module also after a failure; the teardown then checks that no
process carrying this ``SLURM_CONF`` is left and that ``/etc/slurm`` and ``/etc/munge`` are as they were.
There is no accounting daemon: the plugin polls with ``squeue`` (``MinJobAge=300`` keeps finished jobs
visible) and ``jobcomp/filetxt`` records every finished job's state, partition and account.

Every snakemake call is bounded by ``timeout -k`` because the SLURM plugin can wait forever when its status
command stops answering; the bounds only guard against hangs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from workflow_helpers import ROOT, SNAKEMAKE, Project, copy_workflow

from ntk_eoc.pipeline.plan import Plan
from ntk_eoc.pipeline.resources import sample_mem_mb
from ntk_eoc.storage.store import open_store

OPT_IN = "NTK_EOC_SLURM_TESTS"
NEEDS = "root and the Debian packages slurmctld, slurmd, slurm-client, munge (.ci/slurm/install.sh)"
real_slurm = pytest.mark.skipif(
    os.environ.get(OPT_IN) != "1", reason=f"real-SLURM test: set {OPT_IN}=1 to run it (needs {NEEDS})"
)

RUN = "activation~relu__schedule~quadratic"
# One run, one base width, 4 draws in blocks of 2: dataset, 2 sampling jobs, limit and concentration.
CONFIG = (
    "experiment=test",
    'sweep=["activation=relu", "schedule=quadratic"]',
    'overrides=["base_widths=[8]"]',
)
PROFILE = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
# The submissions of that run under profiles/slurm, named as the plugin names their log folders
# (rule_<rule>, group_<group>_<its rules>) -> the jobs each runs: the dataset alone, the 2 sampling jobs and
# the limit in one submission of group `kernels`, the concentration in one of group `concentration`.
SUBMISSIONS = {
    "rule_dataset": ["dataset"],
    "group_kernels_limit_sample": ["limit", "sample", "sample"],
    "group_concentration_concentration": ["concentration"],
}
PARTITION, ACCOUNT = "debug", "root"
CLUSTER_ARGS = (
    "--default-resources",
    f"slurm_partition={PARTITION}",
    f"slurm_account={ACCOUNT}",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--slurm-keep-successful-logs",
    "--verbose",  # prints each sbatch call
)
# Guards against a hung plugin only; never reached by a passing run.
HANG_GUARD_S = 600
READY_S = 60  # for each daemon to answer
STOP_S = 30  # for each daemon to exit after SIGTERM
SYSTEM_DIRS = (Path("/etc/slurm"), Path("/etc/munge"))
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("munge", "sbatch", "squeue", "scancel", "scontrol", "sinfo", "srun")
# Timings legitimately differ between two runs of the same job (another process, a differently loaded
# machine): the attributes `created`, `wall_time_s`, `sampling_wall_time_s`, `seconds_per_draw` and the
# sample variable `seconds_per_draw`, i.e. every attribute or variable whose name is `created`, contains
# `time` or `seconds`, or ends in `_s`. Those are compared for presence, dtype and shape only; every other
# variable bit for bit and every other attribute (config, versions, git commit, device, dtype, sampler
# method, seed, ids) for equality.
VOLATILE = re.compile(r"^created$|time|seconds|_s$")


def _free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free right now, none of SLURM's defaults (6817-6819)."""
    held: list[socket.socket] = []
    try:
        while len(held) < count:
            sock = socket.socket()
            sock.bind(("", 0))
            if sock.getsockname()[1] in (6817, 6818, 6819):
                sock.close()
            else:
                held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def _processes_with(variable: bytes) -> dict[int, str]:
    """pid -> name of every process whose environment holds ``variable`` (``b"NAME=value"``)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if variable in (proc / "environ").read_bytes().split(b"\0"):
                found[int(proc.name)] = (proc / "comm").read_text().strip()
        except OSError:  # gone, or not readable
            continue
    return found


def _system_state() -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime) of every entry under SYSTEM_DIRS; contents are not read."""
    state = {}
    for top in SYSTEM_DIRS:
        for path in [top, *sorted(top.rglob("*"))] if top.exists() else []:
            st = path.lstat()
            state[str(path)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return state


class LocalCluster:
    """A one-node SLURM cluster (this machine, partition ``debug``) whose every file is under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.jobcomp = root / "jobcomp.log"
        self.munge_socket = root / "munge" / "socket"
        if len(str(self.munge_socket)) > 100:  # a unix socket path has at most 107 bytes
            raise RuntimeError(f"temporary directory too deep for the munge socket: {self.munge_socket}")
        path = f"{root / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}:/usr/sbin:/sbin"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}
        self.marker = f"SLURM_CONF={self.conf}".encode()
        self.daemons: dict[str, subprocess.Popen] = {}

    def run(self, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        for sub in ("bin", "munge", "state", "spool"):
            (self.root / sub).mkdir()
        # Inside a job, snakemake-executor-plugin-slurm-jobstep runs each job with `srun`, after removing
        # every SLURM_* variable but the job's id from its environment, SLURM_CONF included: that srun would
        # read /etc/slurm/slurm.conf. This one on PATH puts SLURM_CONF back.
        srun = self.root / "bin" / "srun"
        real_srun = shutil.which("srun", path=self.env["PATH"].split(":", 1)[1])
        srun.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{real_srun}" "$@"\n')
        srun.chmod(0o755)
        (self.root / "munge").chmod(0o755)
        key = self.root / "munge.key"
        with os.fdopen(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
            fh.write(os.urandom(128))
        files = {name: self.root / f"munged.{name}" for name in ("pid", "seed", "log")}
        # --force: munged refuses a socket below a directory not searchable by all (pytest's is 0700).
        self._spawn(
            "munged", "-F", "--force", f"--key-file={key}", f"--socket={self.munge_socket}",
            f"--pid-file={files['pid']}", f"--seed-file={files['seed']}", f"--log-file={files['log']}",
        )  # fmt: skip
        self._wait("munged", lambda: self.run("munge", "-n", "-S", str(self.munge_socket)).returncode == 0)
        (self.root / "plugstack.conf").write_text("")
        self.conf.write_text(self._config())
        self._spawn("slurmctld", "-D")
        self._wait("slurmctld", lambda: "UP" in self.run("scontrol", "ping").stdout)
        self._spawn("slurmd", "-D")
        self._wait("slurmd", lambda: self.run("sinfo", "-h", "-o", "%T").stdout.strip() == "idle")

    def _config(self) -> str:
        host = socket.gethostname().split(".")[0]
        hardware = self.run("slurmd", "-C").stdout.splitlines()[0].split(" ", 1)[1]  # CPUs=.. RealMemory=..
        ctld_port, slurmd_port = _free_ports(2)
        r = self.root
        return f"""\
ClusterName=ntkeoctest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
SlurmUser=root
SlurmdUser=root
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
PlugStackConfig={r}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
NodeName={host} NodeAddr=127.0.0.1 {hardware} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""

    def _spawn(self, name: str, *args: str) -> None:
        with (self.root / f"{name}.out").open("wb") as out:
            self.daemons[name] = subprocess.Popen(
                [shutil.which(name, path=self.env["PATH"]) or name, *args],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait(self, name: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.daemons[name].poll() is not None:
                raise RuntimeError(f"{name} exited ({self.daemons[name].returncode})\n{self.logs()}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready after {READY_S} s\n{self.logs()}")

    def logs(self) -> str:
        """The last lines of every daemon log."""
        parts = []
        for path in sorted([*self.root.glob("*.log"), *self.root.glob("*.out")]):
            lines = path.read_text(errors="replace").splitlines()[-30:]
            parts.append(f"----- {path.name} -----\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self) -> dict[int, str]:
        """Cancel every job, stop the daemons, then kill what is left of the cluster (job steps, job
        processes: every process carrying this SLURM_CONF) and return it: empty after a clean stop."""
        if self.daemons.get("slurmctld") and self.daemons["slurmctld"].poll() is None:
            jobs = self.run("squeue", "-h", "-o", "%i").stdout.split()
            if jobs:
                self.run("scancel", *jobs)
                deadline = time.monotonic() + STOP_S
                while self.run("squeue", "-h", "-t", "running,completing", "-o", "%i").stdout.strip():
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            daemon = self.daemons.get(name)
            if daemon is None:
                continue
            daemon.terminate()
            try:
                daemon.wait(STOP_S)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        left = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = _processes_with(self.marker)
            if not left:
                break
            time.sleep(0.5)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while left and _processes_with(self.marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left


def _check_prerequisites() -> None:
    """Fail (the test was asked for) when something it needs is missing."""
    missing = []
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        missing.append("Linux and root")
    path = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    missing += [name for name in (*DAEMONS, *CLIENTS, "timeout") if shutil.which(name, path=path) is None]
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        missing.append("snakemake-executor-plugin-slurm (pip install -e '.[slurm]')")
    if missing:
        pytest.fail(f"{OPT_IN}=1 but missing: {', '.join(missing)}; needs {NEEDS}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The running cluster; stopped at the end of the module, also after a failure (module doc)."""
    _check_prerequisites()
    before = _system_state()
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        left = cluster.stop()
        assert not left, f"processes of the test cluster left after its daemons stopped (killed now): {left}"
        assert _system_state() == before, f"{', '.join(map(str, SYSTEM_DIRS))} changed while the test ran"


@dataclass
class Runs:
    plan: Plan
    local: Path  # the workflow run with profiles/local
    slurm: Path  # the same run with profiles/slurm
    log: str  # the SLURM run's output
    env: dict[str, str]


def _snakemake(root: Path, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["timeout", "-k", "10", str(HANG_GUARD_S), SNAKEMAKE, *args]
    out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def runs(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The run's concentration store computed on this machine, then through the cluster."""
    base = tmp_path_factory.mktemp("runs")
    # Caches of JAX, Snakemake and matplotlib in the temporary directory too.
    env = {**cluster.env, "XDG_CACHE_HOME": str(base / "cache"), "MPLCONFIGDIR": str(base / "mpl")}
    config = ("--config", *CONFIG, f"jax_cache_dir={base / 'jax_cache'}")
    plan = Project(ROOT).plan(CONFIG)
    target = plan.path("concentration", concentration_key=plan.runs[RUN].concentration_key)
    local, slurm = copy_workflow(base / "local"), copy_workflow(base / "slurm")
    _snakemake(local, env, "--workflow-profile", "profiles/local", *config, "--", target)
    out = _snakemake(slurm, env, "--workflow-profile", "profiles/slurm", *CLUSTER_ARGS, *config, "--", target)
    return Runs(plan, local, slurm, out.stdout + out.stderr, env)


def _submissions(log: str) -> dict[str, Path]:
    """SLURM job id -> its log (``.snakemake/slurm_logs/{rule,group}_<name>/.../<id>.log``)."""
    return {job_id: Path(path) for job_id, path in re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", log)}


def _kind(log_path: Path) -> str:
    return re.search(r"/slurm_logs/([^/]+)/", str(log_path)).group(1)


def _sbatch_calls(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("sbatch call: ")]


@real_slurm
@pytest.mark.slow
def test_jobs_ran_grouped_as_slurm_jobs(runs: Runs, cluster: LocalCluster):
    submitted = _submissions(runs.log)
    by_kind = {_kind(path): job_id for job_id, path in submitted.items()}
    assert sorted(Counter(map(_kind, submitted.values())).items()) == sorted((k, 1) for k in SUBMISSIONS)
    for kind, rules in SUBMISSIONS.items():  # the jobs each submission ran, from its SLURM log
        log = submitted[by_kind[kind]]
        text = log.read_text()
        assert log.is_relative_to(runs.slurm) and "slurm-jobstep" in text, kind
        assert sorted(re.findall(r"^rule (\w+):$", text, re.M)) == rules, kind
    # The job-completion log of the cluster: each submission completed in the partition and account asked.
    done = {}
    for line in cluster.jobcomp.read_text().splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        done[fields["JobId"]] = (fields["JobState"], fields["Partition"], fields["Account"])
    assert {job_id: done.get(job_id) for job_id in submitted} == dict.fromkeys(
        submitted, ("COMPLETED", PARTITION, ACCOUNT)
    )


@real_slurm
@pytest.mark.slow
def test_grouped_submission_asks_for_the_sum_of_runtimes_and_the_largest_memory(runs: Runs):
    """Snakemake runs a group's jobs in layers of at most `cores` (1) jobs: the submission asks for the sum
    of their runtimes, the largest mem_mb and one CPU."""
    calls = _sbatch_calls(runs.log)
    kernels = [call for call in calls if "/slurm_logs/group_kernels_limit_sample/" in call]
    assert len(calls) == len(SUBMISSIONS) and len(kernels) == 1
    res = PROFILE["set-resources"]
    runtime = sum(res[rule]["runtime"] for rule in SUBMISSIONS["group_kernels_limit_sample"])
    cfg = runs.plan.runs[RUN].config
    mem = max(sample_mem_mb(cfg, tuple(cfg.base_widths)), res["limit"]["mem_mb"])
    assert re.search(rf" -t {runtime} ", kernels[0]) and re.search(rf" --mem {mem} ", kernels[0]), kernels[0]
    assert " --cpus-per-task=1 " in kernels[0] and f" -A {ACCOUNT} " in kernels[0], kernels[0]


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


@real_slurm
@pytest.mark.slow
def test_slurm_and_local_stores_are_bit_identical(runs: Runs):
    names = _stores(runs.local)
    assert names == _stores(runs.slurm)
    assert [n.split("/")[2] for n in names] == ["concentration", "datasets", "limit", "samples", "samples"]
    for name in names:
        _assert_same_store(open_store(runs.local / name), open_store(runs.slurm / name), name)
    samples = runs.plan.sample_paths(runs.plan.runs[RUN])
    kernels = np.concatenate([open_store(runs.slurm / p)["K"].values for p in samples], axis=1)
    assert kernels.shape == (1, 4, 6, 6) and kernels.dtype == np.float32
    assert np.all(np.isfinite(kernels)) and np.any(kernels != 0)


@real_slurm
@pytest.mark.slow
def test_gpu_profile_asks_slurm_for_one_gpu_per_sampling_submission(runs: Runs, tmp_path: Path):
    """Both sampling jobs in one submission that asks for one GPU. The cluster has none, so sbatch refuses
    it; replayed with --test-only, the same call passes without its --gpus=1 and fails with it."""
    gpu = copy_workflow(tmp_path / "gpu")
    shutil.copytree(runs.slurm / "results/stores/datasets", gpu / "results/stores/datasets")
    samples = runs.plan.sample_paths(runs.plan.runs[RUN])
    args = ("--workflow-profile", "profiles/slurm-gpu", *CLUSTER_ARGS, "--config", *CONFIG, "--", *samples)
    out = _snakemake(gpu, runs.env, *args, check=False)
    text = out.stdout + out.stderr
    calls = _sbatch_calls(text)
    assert out.returncode == 1 and not _submissions(text), text
    assert len(calls) == 1 and "/slurm_logs/group_kernels_sample/" in calls[0] and " --gpus=1 " in calls[0], text
    call = calls[0].removeprefix("sbatch call: ").replace("sbatch ", "sbatch --test-only ", 1)
    refused, accepted = (
        subprocess.run(c, shell=True, cwd=gpu, env=runs.env, capture_output=True, text=True)
        for c in (call, call.replace(" --gpus=1 ", " "))
    )
    assert refused.returncode != 0 and "Invalid generic resource (gres) specification" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr


def test_gpu_profile_is_the_slurm_profile_plus_one_gpu_per_sampling_job():
    gpu = yaml.safe_load((ROOT / "profiles/slurm-gpu/config.yaml").read_text())
    assert gpu["set-resources"]["sample"].pop("gpu") == 1
    assert gpu == PROFILE
    assert PROFILE["executor"] == "slurm" and "default-resources" not in PROFILE
    rule_files = "".join(path.read_text() for path in (ROOT / "workflow/rules").glob("*.smk"))
    rules = set(re.findall(r"^rule (\w+):", rule_files, re.M))
    assert rules - {"run_config"} == set(PROFILE["set-resources"])  # run_config is a local rule
    for rule, res in PROFILE["set-resources"].items():
        assert res["runtime"] > 0 and res["cpus_per_task"] == 1, rule
    # Grouped jobs run one after another on one CPU; every group has a size.
    assert PROFILE["cores"] == 1 and set(PROFILE["groups"]) <= rules
    assert set(PROFILE["groups"].values()) == set(PROFILE["group-components"])
