"""The plan (DAG side): built from the Snakemake config without JAX, one spec per job, typed axes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ntk_eoc.pipeline.plan import Plan
from ntk_eoc.pipeline.runs import ConfigError
from ntk_eoc.pipeline.specs import SampleSpec

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = {
    "experiment": "test",
    "overrides": [],
    "sweep": None,
    "hydra_config_dir": str(ROOT / "config" / "hydra"),
    "hydra_config_name": "config",
    "results_dir": "results",
    "jax_cache_dir": "",
}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan(CONFIG, SCHEMA)


def test_the_plan_imports_no_numerical_library():
    code = (
        "import json, sys\n"
        "from ntk_eoc.pipeline.plan import Plan\n"
        f"Plan(json.loads(sys.argv[1]), {str(SCHEMA)!r}).final_targets()\n"
        "print(sorted(m for m in ('jax', 'xarray', 'zarr', 'pandas', 'matplotlib', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, json.dumps(CONFIG)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_runs_carry_typed_axes_with_the_activation_last(plan):
    run = plan.runs["activation~leaky_relu__schedule~quadratic"]
    assert run.axes == {"schedule": "quadratic", "activation": "leaky_relu(0.1)"}
    assert len(plan.runs) == 4 and plan.figure_names()[:2] == ["deviation_vs_width", "activations"]


def test_sample_spec_is_the_runs_architecture(plan):
    wildcards = SimpleNamespace(run="activation~relu__schedule~constant", width="8")
    spec = SampleSpec.from_json(plan.sample_spec(wildcards))
    assert spec.architecture == plan.runs[wildcards.run].config.architecture(8)
    assert spec.architecture.widths == (4, 8, 8, 1) and plan.sample_mem_mb(wildcards) >= 1000


def test_final_targets_cover_every_run(plan):
    targets = plan.final_targets()
    assert sum("/configs/" in t for t in targets) == 4 and sum("/gathered/" in t for t in targets) == 4
    assert "results/test/tables/claims.md" in targets and len(targets) == len(set(targets))


def test_bad_snakemake_config_names_the_key():
    with pytest.raises(ConfigError, match=r"experiment='test.yaml': 'test.yaml' does not match"):
        Plan({**CONFIG, "experiment": "test.yaml"}, SCHEMA)
    with pytest.raises(ConfigError, match=r"bogus=1: unknown key"):
        Plan({**CONFIG, "bogus": 1}, SCHEMA)
