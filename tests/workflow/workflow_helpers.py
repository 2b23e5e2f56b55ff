"""Helpers to drive a copy of the workflow through the Snakemake CLI and read its dry-run job list."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from ntk_eoc.pipeline.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# Environment of the local (non-SLURM) Snakemake runs. Where SLURM's client tools are installed, the SLURM
# executor plugin asks `scontrol show config` for a setting's help text at every start; with a config that
# names an unreachable controller (or none: configless lookup) that takes ~9 s. An empty config makes
# scontrol fail at once; local runs never use it (tests/workflow/test_slurm.py passes its own).
LOCAL_ENV = {**os.environ, "SLURM_CONF": os.devnull}
# The tiny experiment of every workflow test: 2 runs (relu, leaky_relu; constant schedule), base widths 4
# and 8 (sampled together: both are cheap), 4 draws in blocks of 2 -> 4 sampling jobs; its figures and
# tables in results/tiny/. The repository's JAX compilation cache is shared (entries are keyed by program
# and JAX version).
TINY = (
    "experiment=test",
    "name=tiny",
    'sweep=["activation=relu,leaky_relu", "schedule=constant"]',
    f"jax_cache_dir={ROOT / '.jax_cache'}",
)
RUNS = ("activation~relu__schedule~constant", "activation~leaky_relu__schedule~constant")
COPIED = ("Snakefile", "workflow", "config", "envs", "profiles")


def copy_workflow(root: Path) -> Path:
    """Copy the workflow files (COPIED) of the repository into a new directory ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        else:
            shutil.copy2(src, root / name)
    return root


class Project:
    """The workflow copied into ``root``; every call runs ``snakemake`` there."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, *args: str, config: Sequence[str] = TINY, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [SNAKEMAKE, *args]
        if config:
            cmd += ["--config", *config]
        out = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, env=LOCAL_ENV)
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        return out

    def planned(self, *args: str, config: Sequence[str] = TINY) -> list[tuple[str, str]]:
        """(rule, output) of every job a dry run would execute, sorted; the dry run prints no exception (an
        input function of a rule with no job here, evaluated because two rules share an output, would)."""
        out = self.run("-n", *args, config=config)
        assert "Exception" not in out.stdout + out.stderr, out.stderr
        return parse_jobs(out.stdout)

    def plan(self, config: Sequence[str] = TINY) -> Plan:
        """The plan Snakemake makes for ``config`` here (config/config.yaml plus the --config values)."""
        cfg = yaml.safe_load((self.root / "config/config.yaml").read_text())
        for item in config:
            key, _, value = item.partition("=")
            cfg[key] = yaml.safe_load(value)
        cfg["hydra_config_dir"] = str(self.root / cfg["hydra_config_dir"])
        return Plan(cfg, self.root / "workflow/schemas/config.schema.yaml")


def parse_jobs(text: str) -> list[tuple[str, str]]:
    """(rule, first output or '') per job of Snakemake's dry-run listing."""
    jobs, rule = [], None
    for line in text.splitlines():
        head = re.match(r"^(?:local)?rule (\w+):$", line)
        if head:
            if rule is not None:
                jobs.append((rule, ""))
            rule = head.group(1)
            continue
        if rule is not None and line.startswith("    output: "):
            jobs.append((rule, line.removeprefix("    output: ").split(", ")[0]))
            rule = None
        elif rule is not None and line.startswith("    jobid: ") and rule == "all":
            jobs.append((rule, ""))
            rule = None
    return sorted(jobs)
