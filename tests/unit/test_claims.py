"""The claims table's columns and verdicts on tiny synthetic datasets (ntk_eoc.claims)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ntk_eoc import Activation
from ntk_eoc.analysis.claims import (
    COLUMNS,
    claims_markdown,
    claims_table,
    limit_verdict,
    ratio_verdict,
    slope_verdict,
    write_claims,
)
from ntk_eoc.analysis.spectrum import limit_spectrum

N_BOOT = 400  # the planted effects below are many CI widths away from the thresholds
WIDTHS = [16, 64, 256, 1024]


def _deviations(slopes: dict, levels: dict, n_draws: int = 64, seed: int = 0) -> xr.Dataset:
    """op_abs = level(activation, schedule) * m^slope(schedule) * depth * exp(0.2 z)."""
    rng = np.random.default_rng(seed)
    acts, scheds, depths = ["relu", "abs"], ["quadratic", "constant"], [2, 3]
    m = np.array(WIDTHS, dtype=float)
    values = np.empty((2, 2, 2, len(WIDTHS), n_draws))
    for (a, act), (s, sched), (d, depth) in itertools.product(*map(enumerate, (acts, scheds, depths))):
        mean = levels[act, sched] * m ** slopes[sched] * depth
        values[a, s, d] = mean[:, None] * np.exp(0.2 * rng.standard_normal((len(WIDTHS), n_draws)))
    return xr.Dataset(
        {"op_abs": (("activation", "schedule", "depth", "base_width", "draw"), values)},
        coords={"activation": acts, "schedule": scheds, "depth": depths, "base_width": WIDTHS},
    )


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    dev = _deviations(
        slopes={"quadratic": -0.5, "constant": -0.25},
        levels={
            ("relu", "quadratic"): 2.0,
            ("abs", "quadratic"): 1.0,
            ("relu", "constant"): 4.0,
            ("abs", "constant"): 3.0,
        },
    )
    x = np.random.default_rng(1).standard_normal((4, 6))
    x *= np.sqrt(6) / np.linalg.norm(x, axis=1, keepdims=True)
    spec = limit_spectrum(x, Activation.named("abs"), [10, 100, 1000, 20_000])
    return claims_table(dev, spec, n_boot=N_BOOT, seed=2)


def _row(table, *needles):
    hits = table[[all(n in c for n in needles) for c in table.claim]]
    assert len(hits) == 1, (needles, table.claim.tolist())
    return hits.iloc[0]


def test_columns_are_the_contract(table):
    assert tuple(table.columns) == COLUMNS


def test_slope_rows_per_activation_and_schedule(table):
    slopes = table[table.claim.str.startswith("slope of log mean op_abs vs log m (")]
    assert len(slopes) == 4
    assert (slopes.predicted == -0.5).all()
    assert all("depth=3" in c for c in slopes.claim)  # the reference cell is the deepest depth
    for act in ("relu", "abs"):
        assert _row(table, "vs log m (", f"activation={act}", "quadratic").verdict == "consistent"
        # planted -1/4 lies far above -1/2
        assert _row(table, "vs log m (", f"activation={act}", "constant").verdict == "above prediction"


def test_ratio_rows_and_directions(table):
    abs_relu = table[table.claim.str.contains("ratio abs/relu")]
    assert len(abs_relu) == 2  # one per schedule
    quad = _row(table, "ratio abs/relu", "schedule=quadratic")
    assert quad.measured == pytest.approx(0.5, rel=0.1)  # planted 1.0 / 2.0; 64 draws with 20% noise
    assert quad.verdict == "direction holds" and quad.ci_high < 1.0
    assert "bound factor ratio" in quad.claim
    # quadratic beats constant: planted ratio 2 m^-1/4 / 4 = 0.09 (relu), 1 m^-1/4 / 3 = 0.06 (abs) at m = 1024
    for act in ("relu", "abs"):
        assert _row(table, "ratio quadratic/constant", f"activation={act}").verdict == "direction holds"


def test_deep_limit_rows(table):
    limits = table[table.claim.str.contains("->")]
    assert len(limits) == 4
    assert limits.ci_low.isna().all() and limits.ci_high.isna().all()
    cond = _row(table, "cond(K_inf)")
    assert cond.predicted == pytest.approx(1 + 4 / 3)
    assert cond.verdict == "consistent"  # at l = 2e4 the gap is ~1e-3


def test_verdict_rules():
    assert slope_verdict(-0.5, -0.6, -0.4) == "consistent"
    assert slope_verdict(-0.5, -0.8, -0.6) == "below prediction"
    assert slope_verdict(-0.5, -0.3, -0.2) == "above prediction"
    assert ratio_verdict(0.5, 0.9) == "direction holds"
    assert ratio_verdict(1.1, 1.3) == "direction fails"
    assert ratio_verdict(0.9, 1.1) == "inconclusive"
    assert limit_verdict(4.0, np.array([4.2, 4.1]), 0.01) == "approaching"
    assert limit_verdict(4.0, np.array([4.1, 4.2]), 0.01) == "inconsistent"
    assert limit_verdict(4.0, np.array([4.01]), 0.01) == "consistent"
    assert limit_verdict(4.0, np.array([4.2]), 0.01) == "inconclusive"


def test_output_dimension_rows():
    rng = np.random.default_rng(3)
    out_dims = np.array([1, 2, 4, 8])
    values = (2.0 * out_dims[:, None, None] ** 0.5) * np.exp(0.2 * rng.standard_normal((4, 2, 64)))
    dev = xr.Dataset(
        {"op_abs": (("output_dim", "base_width", "draw"), values)},
        coords={"output_dim": out_dims, "base_width": [64, 256]},
    )
    table = claims_table(dev, n_boot=N_BOOT, seed=4)
    row = _row(table, "vs log m_l")
    assert row.predicted == 0.5 and row.verdict == "consistent"
    pd.testing.assert_frame_equal(table, claims_table(dev, n_boot=N_BOOT, seed=4))


def test_table_is_written_as_csv_and_markdown(table, tmp_path):
    csv, md = tmp_path / "tables" / "claims.csv", tmp_path / "tables" / "claims.md"
    write_claims(table, csv, md)
    back = pd.read_csv(csv)
    assert tuple(back.columns) == COLUMNS and len(back) == len(table)
    assert back.ci_low.isna().sum() == table.ci_low.isna().sum()
    text = md.read_text()
    assert text.startswith("| claim | predicted |") and "Verdict rules" in text
    assert sum(line.startswith("| ") for line in text.splitlines()) == len(table) + 1  # header + claims
    assert claims_markdown(table) == text
