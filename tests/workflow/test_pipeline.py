"""End to end: the tiny experiment through the Snakemake CLI, its stores, and incremental reruns.

Each incremental case is checked with Snakemake's own dry-run job list after one complete run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from workflow_helpers import RUNS, TINY, parse_jobs

from ntk_eoc.storage.store import open_store

RELU, LEAKY = RUNS
# The rules of this stage set; stages added later (concentration, spectrum, figures) are left out of
# the job-list comparisons.
PIPELINE_RULES = {"all", "run_config", "dataset", "sample", "gather", "limit"}
WIDTHS = (4, 8)
# Sampled kernels are float32 Gram sums: symmetric up to a few float32 ulps of their scale.
SYMMETRY_ATOL = 1e-5
# The limit is float64 and Theta_l(x, x) = l holds to rounding.
LIMIT_RTOL = 1e-12


def _result(path: str) -> str:
    return f"results/test/{path}"


def _sample(run: str, width: int, start: int, stop: int) -> tuple[str, str]:
    return ("sample", _result(f"samples/{run}/m~{width}/draws_{start}-{stop}.zarr"))


def _gather(run: str) -> tuple[str, str]:
    return ("gather", _result(f"gathered/{run}.zarr"))


def _config(run: str) -> tuple[str, str]:
    return ("run_config", _result(f"configs/{run}.yaml"))


def _planned(project, *config: str) -> list[tuple[str, str]]:
    """Dry-run jobs of the rules in PIPELINE_RULES."""
    return [job for job in project.planned(config=(*TINY, *config)) if job[0] in PIPELINE_RULES]


def test_tiny_experiment_plans_every_stage(project):
    jobs = _planned(project)
    rules = [rule for rule, _ in jobs]
    assert {rule: rules.count(rule) for rule in set(rules)} == {
        "all": 1,
        "dataset": 1,
        "run_config": 2,
        "sample": 8,
        "gather": 2,
        "limit": 2,
    }
    assert _sample(LEAKY, 8, 2, 4) in jobs and _gather(RELU) in jobs


def test_run_writes_complete_stores_with_expected_values(completed):
    root = completed.root
    assert "Nothing to be done" in completed.run("-n").stdout
    gathered = open_store(root / _result(f"gathered/{RELU}.zarr"))
    k = gathered["K"].values
    assert gathered["K"].dims == ("base_width", "draw", "i", "j") and k.shape == (2, 4, 6, 6)
    assert k.dtype == np.float32
    np.testing.assert_array_equal(gathered["base_width"].values, WIDTHS)
    np.testing.assert_array_equal(gathered["draw"].values, [0, 1, 2, 3])
    np.testing.assert_array_equal(gathered["layer_widths"].values, [[4, 4, 4, 1], [4, 8, 8, 1]])
    np.testing.assert_allclose(k, np.swapaxes(k, -1, -2), atol=SYMMETRY_ATOL)
    assert np.all(np.diagonal(k, axis1=-2, axis2=-1) >= 0)  # 0 when every unit is dead at x
    assert gathered.attrs["run"] == RELU and gathered.attrs["config"]["draws"] == 4
    assert gathered.attrs["axes"] == [["schedule", "constant"], ["activation", "relu"]]  # activation last
    assert gathered.attrs["sampler_method"] and gathered.attrs["complete"] is True

    limit = open_store(root / _result(f"limit/{gathered.attrs['limit_id']}.zarr"))
    np.testing.assert_allclose(np.diag(limit["K_inf"].values), 3 / 6, rtol=LIMIT_RTOL)  # Theta_3(x,x)/n
    np.testing.assert_array_equal(limit["layer"].values, [1, 2, 3])
    np.testing.assert_allclose(np.diagonal(limit["rho"].values, axis1=1, axis2=2), 1.0, rtol=LIMIT_RTOL)
    assert limit.attrs["dtype"] == "float64"

    x = open_store(root / _result(f"datasets/{gathered.attrs['dataset_id']}.zarr"))["x"].values
    np.testing.assert_allclose(np.sum(x**2, axis=1), 4.0, rtol=LIMIT_RTOL)
    resolved = yaml.safe_load((root / _result(f"configs/{LEAKY}.yaml")).read_text())
    assert resolved["activation"] == {"name": "leaky_relu", "alpha": 0.1}
    assert resolved["schedule"] == {"name": "constant"}


def test_draws_are_bit_identical_whatever_the_split(completed):
    gathered = open_store(completed.root / _result(f"gathered/{RELU}.zarr"))
    block = open_store(completed.root / _result(f"samples/{RELU}/m~8/draws_2-4.zarr"))
    spec = json.dumps(block.attrs["config"])
    dataset = str(completed.root / _result(f"datasets/{gathered.attrs['dataset_id']}.zarr"))
    reference = gathered["K"].sel(base_width=8).values
    for draws, ids in (("0:4", [0, 1, 2, 3]), ("3:4", [3])):
        out = completed.root / f"split_{draws.replace(':', '-')}.zarr"
        cmd = [sys.executable, "-m", "ntk_eoc.pipeline.stages.sample", "--spec", spec, "--dataset", dataset]
        subprocess.run([*cmd, "--draws", draws, "--output", str(out)], check=True, capture_output=True)
        np.testing.assert_array_equal(open_store(out)["K"].values, reference[ids])


def test_raising_draws_samples_only_the_new_blocks(completed):
    jobs = _planned(completed, 'overrides=["draws=6"]')
    new_blocks = [_sample(run, w, 4, 6) for run in RUNS for w in WIDTHS]
    assert jobs == sorted([("all", ""), *new_blocks, *map(_gather, RUNS), *map(_config, RUNS)])


def test_adding_a_base_width_samples_only_that_width(completed):
    jobs = _planned(completed, 'overrides=["base_widths=[4,8,16]"]')
    new_blocks = [_sample(run, 16, a, b) for run in RUNS for a, b in ((0, 2), (2, 4))]
    assert jobs == sorted([("all", ""), *new_blocks, *map(_gather, RUNS), *map(_config, RUNS)])


def test_changing_one_activation_reruns_only_its_branch(completed):
    path = completed.root / "config/hydra/activation/leaky_relu.yaml"
    original = path.read_text()
    path.write_text(original.replace("alpha: 0.1", "alpha: 0.3"))
    try:
        jobs = _planned(completed)
    finally:
        path.write_text(original)
    limits = [(rule, out) for rule, out in jobs if rule == "limit"]
    assert len(limits) == 1 and "__leaky_relu-" in limits[0][1]
    blocks = [_sample(LEAKY, w, a, b) for w in WIDTHS for a, b in ((0, 2), (2, 4))]
    assert jobs == sorted([("all", ""), *blocks, _gather(LEAKY), _config(LEAKY), *limits])


def test_changing_figure_options_reruns_only_figures(completed):
    jobs = completed.planned(config=(*TINY, 'overrides=["+figures.dpi=100"]'))
    assert {rule for rule, _ in jobs} == {"all", "run_config", "figures"}
    assert [job for job in jobs if job[0] != "figures"] == sorted([("all", ""), *map(_config, RUNS)])


def test_dry_run_listing_parser_reads_rule_and_output():
    text = "rule sample:\n    input: a\n    output: b.zarr\n    jobid: 3\nlocalrule all:\n    input: b\n    jobid: 0\n"
    assert parse_jobs(text) == [("all", ""), ("sample", "b.zarr")]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('overrides=["sampler.dtype=float16"]', "invalid config: sampler.dtype='float16': must be one of float32"),
        ('sweep=["depth=3,0"]', "invalid config: depth=0: must be an integer >= 1"),
        ("experiment=nope", "invalid config: experiment='nope': In 'config': Could not find 'experiment/nope'"),
        ("bogus_key=1", "invalid config: bogus_key=1: unknown key"),
    ],
)
def test_invalid_config_fails_dry_run_with_one_message(project, extra, message):
    out = project.run("-n", config=(*TINY, extra), check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 1
    assert message in text and text.count("invalid config:") == 1


def test_lint_and_format_are_clean(project):
    lint = project.run("--lint")
    assert "Congratulations, your workflow is in a good condition!" in lint.stdout + lint.stderr
    snakefmt = [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/"]
    fmt = subprocess.run(snakefmt, cwd=project.root, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stderr
