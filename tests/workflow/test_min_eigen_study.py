"""End to end: the tiny min_eigen experiment through the Snakemake CLI, its stores, table, claims and figure."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import ROOT

from ntk_eoc.analysis.min_eigen import CLAIM_COLUMNS, TABLE_COLUMNS
from ntk_eoc.storage.store import open_store

pytestmark = pytest.mark.slow  # end-to-end: run by default, deselected by -m 'not slow'

# config/hydra/experiment/test_min_eigen.yaml: 2 settings x n in {6, 24}, d = 3, 3 draws in one job each.
CONFIG = ("experiment=test_min_eigen", f"jax_cache_dir={ROOT / '.jax_cache'}")
RESULTS = "results/test_min_eigen"
SETTINGS = ("sigmoid_standard", "relu_eoc")
RUNS = tuple(f"setting~{s}__dataset.n_points~{n}" for s in SETTINGS for n in (6, 24))
BLOCKS = ["full", "layer_1", "layer_2", "layer_3"]
P_BLOCKS = [21, 9, 9, 3]  # d -> d -> d -> 1 with d = 3: 2 d^2 + d, d^2, d^2, d


def _store(project, run: str) -> str:
    """The one min_eigen store of a run (d = 3, draws 0-3), as the plan names it."""
    plan = project.plan(CONFIG)
    (path,) = plan.min_eigen_paths(plan.runs[run])
    return path


@pytest.fixture(scope="module")
def min_eigen_done(project):
    project.run("--cores", "2", config=CONFIG)
    return project


def test_plans_only_the_min_eigen_stages_and_the_resolved_configs(project):
    jobs = project.planned(config=CONFIG)
    rules = [rule for rule, _ in jobs]
    assert {rule: rules.count(rule) for rule in set(rules)} == {
        "all": 1,
        "dataset": 2,
        "min_eigen": 4,
        "min_eigen_summary": 1,
        "run_config": 4,
    }
    assert ("min_eigen", _store(project, RUNS[1])) in jobs


def test_stores_hold_extreme_eigenvalues_per_block(min_eigen_done):
    root = min_eigen_done.root
    assert "Nothing to be done" in min_eigen_done.run("-n", config=CONFIG).stdout
    for run in RUNS:
        ds = open_store(root / _store(min_eigen_done, run))
        n = ds.attrs["n_points"]
        assert ds.lambda_min.dims == ("draw", "block") and ds.lambda_min.shape == (3, 4)
        assert ds.block.values.tolist() == BLOCKS and ds.n_params.values.tolist() == P_BLOCKS
        np.testing.assert_array_equal(ds.rank_zero.values, [n > p for p in P_BLOCKS])
        assert np.all(ds.lambda_min.values[:, ds.rank_zero.values] == 0.0)
        assert np.all(ds.lambda_max.values > 0) and np.all(ds.lambda_max.values >= ds.lambda_min.values)
        assert ds.attrs["dtype"] == "float64" and ds.attrs["key"] == min_eigen_done.plan(CONFIG).runs[run].sample_key
        assert ds.attrs["eigen_seconds"] >= 0 and ds.attrs["seconds_per_draw"] > 0
        assert "K" not in ds  # kernels are never stored
    plan = min_eigen_done.plan(CONFIG)
    assert not any((root / plan.stores / "samples" / run.sample_key).exists() for run in plan.runs.values())


def test_table_claims_and_figure_match_the_stores(min_eigen_done):
    root = min_eigen_done.root / RESULTS
    table = pd.read_csv(root / "tables/min_eigen.csv")
    assert tuple(table.columns) == TABLE_COLUMNS and len(table) == len(RUNS) * len(BLOCKS)
    numeric = table[["lambda_min_mean", "lambda_min_min", "lambda_min_max", "lambda_max_mean", "N_lambda_min_mean"]]
    assert np.isfinite(numeric.to_numpy()).all()
    for run in RUNS:
        ds = open_store(min_eigen_done.root / _store(min_eigen_done, run))
        rows = table[table.run == run].set_index("block").loc[BLOCKS]
        np.testing.assert_allclose(rows.lambda_min_mean, ds.lambda_min.mean("draw").values, rtol=1e-8, atol=1e-300)
        np.testing.assert_allclose(rows.N_lambda_min_mean, ds.attrs["n_points"] * rows.lambda_min_mean, rtol=1e-8)
        np.testing.assert_allclose(rows.N_over_P, ds.attrs["n_points"] / np.array(P_BLOCKS), rtol=1e-8)
    assert set(table.activation) == {"sigmoid", "relu"} and set(table.init) == {"standard", "eoc"}
    claims = pd.read_csv(root / "tables/min_eigen_claims.csv")
    assert tuple(claims.columns) == CLAIM_COLUMNS and len(claims) > 0
    assert set(claims.verdict) <= {"holds", "fails", "inconclusive", "by theorem"}
    zero = claims[claims.claim.str.contains("rank bound")]
    assert len(zero) and (zero.verdict == "by theorem").all() and (zero.kind == "theorem").all()
    assert "Verdict rules" in (root / "tables/min_eigen_claims.md").read_text()
    for suffix in ("png", "pdf"):
        assert (root / f"figures/min_eigen.{suffix}").stat().st_size > 0


def test_archive_works_for_a_min_eigen_experiment(min_eigen_done):
    min_eigen_done.run("--cores", "1", "archive", config=CONFIG)
    assert (min_eigen_done.root / "results/archives/test_min_eigen.zip").stat().st_size > 0


def test_lint_and_format_are_clean_for_a_min_eigen_experiment(project):
    lint = project.run("--lint", config=CONFIG)
    assert "Congratulations, your workflow is in a good condition!" in lint.stdout + lint.stderr
    rules = ("workflow/rules/min_eigen.smk", "workflow/rules/min_eigen_summary.smk")
    snakefmt = [sys.executable, "-m", "snakefmt", "--check", *rules]
    fmt = subprocess.run(snakefmt, cwd=project.root, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stderr
