"""End to end: the tiny experiment through the Snakemake CLI, its stores, variants and incremental reruns.

Each incremental case is checked with Snakemake's own dry-run job list after one complete run; paths come
from the plan Snakemake itself makes (``Project.plan``), so the tests do not restate the path scheme.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import RUNS, TINY, Project, copy_workflow, parse_jobs

from ntk_eoc.storage.store import open_store

pytestmark = pytest.mark.slow  # end-to-end: run by default, deselected by -m 'not slow'

RELU, LEAKY = RUNS
WIDTHS = (4, 8)
# Sampled kernels are float32 Gram sums: symmetric up to a few float32 ulps of their scale.
SYMMETRY_ATOL = 1e-5
# The limit is float64 and Theta_l(x, x) = l holds to rounding.
LIMIT_RTOL = 1e-12


def _variant(*config: str) -> tuple[str, ...]:
    """The tiny experiment with extra settings, in a view of its own (``name=tiny`` keeps its settings)."""
    return (*(("name=tiny-variant" if item == "name=tiny" else item) for item in TINY), *config) if config else TINY


def _planned(project, *config: str) -> list[tuple[str, str]]:
    """Dry-run jobs (rule, first output) of the tiny experiment with extra config."""
    return project.planned(config=_variant(*config))


def _counts(jobs) -> dict[str, int]:
    rules = [rule for rule, _ in jobs]
    return {rule: rules.count(rule) for rule in set(rules)}


def test_tiny_experiment_plans_every_stage(tmp_path):
    fresh = Project(copy_workflow(tmp_path))  # the session's copy may already have run
    jobs = _planned(fresh)
    assert _counts(jobs) == {
        "all": 1,
        "dataset": 1,
        "run_config": 2,
        "sample": 4,
        "limit": 2,
        "concentration": 2,
        "spectrum": 2,
        "first_order": 2,
        "figures": 1,
    }
    plan = fresh.plan()
    assert ("sample", plan.sample_paths(plan.runs[LEAKY])[1]) in jobs
    assert plan.sample_paths(plan.runs[LEAKY])[1].endswith("/m~4-8/draws_2-4.zarr")  # both widths in one job


def test_run_writes_complete_stores_with_expected_values(completed):
    root, plan = completed.root, completed.plan()
    assert "Nothing to be done" in completed.run("-n").stdout
    run = plan.runs[RELU]
    blocks = [open_store(root / p) for p in plan.sample_paths(run)]
    k = np.concatenate([b["K"].values for b in blocks], axis=1)
    assert blocks[0]["K"].dims == ("base_width", "draw", "i", "j") and k.shape == (2, 4, 6, 6)
    assert k.dtype == np.float32
    np.testing.assert_array_equal(blocks[0]["base_width"].values, WIDTHS)
    np.testing.assert_array_equal(blocks[1]["draw"].values, [2, 3])
    np.testing.assert_array_equal(blocks[0]["layer_widths"].values, [[4, 4, 4, 1], [4, 8, 8, 1]])
    np.testing.assert_allclose(k, np.swapaxes(k, -1, -2), atol=SYMMETRY_ATOL)
    assert np.all(np.diagonal(k, axis1=-2, axis2=-1) >= 0)  # 0 when every unit is dead at x
    assert blocks[0].attrs["key"] == run.sample_key and blocks[0].attrs["complete"] is True

    conc = open_store(root / plan.path("concentration", concentration_key=run.concentration_key))
    assert conc.op_rel.dims == ("base_width", "draw") and conc.op_rel.shape == (2, 4)
    assert conc.attrs["config"]["draws"] == 4 and conc.attrs["limit_key"] == run.limit_key
    limit = open_store(root / plan.run_limit(run))
    np.testing.assert_allclose(np.diag(limit["K_inf"].values), 3 / 6, rtol=LIMIT_RTOL)  # Theta_3(x,x)/n
    np.testing.assert_array_equal(limit["layer"].values, [1, 2, 3])
    np.testing.assert_allclose(np.diagonal(limit["rho"].values, axis1=1, axis2=2), 1.0, rtol=LIMIT_RTOL)
    assert limit.attrs["dtype"] == "float64"

    x = open_store(root / plan.path("dataset", dataset=run.dataset))["x"].values
    np.testing.assert_allclose(np.sum(x**2, axis=1), 4.0, rtol=LIMIT_RTOL)
    resolved = yaml.safe_load((root / plan.path("run_config", run=LEAKY)).read_text())
    assert resolved["activation"] == {"name": "leaky_relu", "alpha": 0.1}
    assert resolved["schedule"] == {"name": "constant"}
    assert (root / "results/tiny/tables/claims.md").is_file() and (root / "results/tiny/logs/figures.log").is_file()

    first = open_store(root / plan.path("first_order", first_order_key=run.first_order_key))
    assert first.covariance.shape == (21, 21) and first.op_rel.shape == (256,)
    assert first.attrs["key"] == run.first_order_key
    table = pd.read_csv(root / "results/tiny/tables/concentration_summary.csv")
    predicted = table[(table.variable == "op_rel_first_order") & (table.statistic == "mean")]
    assert len(predicted) == 2 * len(WIDTHS)  # every run and base width, beside the measured rows
    row = predicted[(predicted.activation == "relu") & (predicted.base_width == WIDTHS[-1])]
    np.testing.assert_allclose(row.value.item(), first.op_rel.values.mean() / np.sqrt(WIDTHS[-1]), rtol=1e-12)


def test_draws_are_bit_identical_whatever_the_split(completed):
    plan = completed.plan()
    run = plan.runs[RELU]
    reference = np.concatenate([open_store(completed.root / p)["K"].values for p in plan.sample_paths(run)], axis=1)
    block = open_store(completed.root / plan.sample_paths(run)[1])
    spec = json.dumps(block.attrs["config"])
    dataset = str(completed.root / plan.path("dataset", dataset=run.dataset))
    for draws, ids in (("0:4", [0, 1, 2, 3]), ("3:4", [3])):
        out = completed.root / f"split_{draws.replace(':', '-')}.zarr"
        cmd = [sys.executable, "-m", "ntk_eoc.pipeline.stages.sample", "--spec", spec, "--dataset", dataset]
        subprocess.run([*cmd, "--draws", draws, "--output", str(out)], check=True, capture_output=True)
        np.testing.assert_array_equal(open_store(out)["K"].values, reference[:, ids])


def test_raising_draws_samples_only_the_new_blocks(completed):
    jobs = _planned(completed, 'overrides=["draws=6"]')
    plan = completed.plan(_variant('overrides=["draws=6"]'))
    new_blocks = [("sample", p) for run in plan.runs.values() for p in plan.sample_paths(run) if "draws_4-6" in p]
    assert len(new_blocks) == 2 and set(new_blocks) <= set(jobs)
    assert _counts(jobs) == {"all": 1, "sample": 2, "concentration": 2, "run_config": 2, "figures": 1}


def test_adding_a_base_width_samples_only_its_group(completed):
    jobs = _planned(completed, 'overrides=["base_widths=[4,8,16]"]')
    samples = sorted(out for rule, out in jobs if rule == "sample")
    assert len(samples) == 4 and all("/m~4-8-16/" in out for out in samples)  # the cheap widths' group
    assert _counts(jobs) == {"all": 1, "sample": 4, "concentration": 2, "run_config": 2, "figures": 1}


def test_changing_one_activation_reruns_only_its_branch(completed):
    path = completed.root / "config/hydra/activation/leaky_relu.yaml"
    original = path.read_text()
    path.write_text(original.replace("alpha: 0.1", "alpha: 0.3"))
    try:
        jobs = _planned(completed)
    finally:
        path.write_text(original)
    assert all("leaky_relu~0.3" in out for rule, out in jobs if rule in ("sample", "limit", "spectrum"))
    assert _counts(jobs) == {
        "all": 1, "sample": 2, "limit": 1, "spectrum": 1, "concentration": 1, "first_order": 1, "run_config": 1,
        "figures": 1,
    }  # fmt: skip


def test_changing_figure_options_reruns_only_figures(completed):
    jobs = _planned(completed, 'overrides=["+figures.dpi=100"]')
    assert _counts(jobs) == {"all": 1, "run_config": 2, "figures": 1}


def test_a_variant_gets_its_own_folder_and_reuses_the_shared_stores(completed):
    variant = ("experiment=test", 'sweep=["activation=relu", "schedule=constant"]', TINY[-1])
    plan = completed.plan(variant)
    assert plan.view == "test+activation=relu+schedule=constant"
    jobs = completed.planned(config=variant)
    assert _counts(jobs) == {"all": 1, "run_config": 1, "figures": 1}  # every store exists already
    assert all(out.startswith(f"results/{plan.view}/") for rule, out in jobs if rule != "all")


def test_a_named_view_is_not_rerun_with_other_settings(completed):
    out = completed.run("-n", config=(*TINY, 'overrides=["draws=6"]'), check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 1
    assert "invalid config: name='tiny': results/tiny/ was made with overrides=[]" in text, text
    assert "choose another name" in text
    completed.planned()  # with its own settings the view plans as before


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
        ('overrides=["activation=abs"]', "invalid config: overrides='activation=abs': activation is swept"),
        ("name=../x", "invalid config: name='../x': must be a plain folder name"),
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
