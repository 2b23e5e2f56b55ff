"""The claims table on synthetic data: every row type reaches holds, fails and inconclusive (analysis.claims.table).

Deviations are planted as mean(cell) x u_{pi_cell(s)} over the draws s, where u = exp(noise z) / mean(exp(noise z))
for one standard normal sample z, and pi_cell is a permutation per cell. Every cell's sample mean is then
exactly its planted mean, so every point estimate (log-log slope, ratio) is exactly the planted value, while
the permutations make the paired bootstrap CIs as wide as for independent noise. With NOISE = 0.05 over
64 draws a CI half-width is ~0.02; planted values >= 0.1 from a rule's threshold decide the verdict.
"Inconclusive" cases plant the value exactly on the threshold with EDGE_NOISE = 0.3 over 32 draws: the CI
(half-width ~0.1) then straddles it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ntk_eoc import Activation
from ntk_eoc.analysis.claims.table import COLUMNS, DEFAULTS, claims_markdown, claims_table, write_claims
from ntk_eoc.analysis.spectrum import limit_spectrum
from ntk_eoc.analysis.stats import bound_log_slope

N_BOOT = 300
NOISE, N_DRAWS = 0.05, 64
EDGE_NOISE, EDGE_DRAWS = 0.3, 32


def _deviations(coords: dict, mean, noise=NOISE, n_draws=N_DRAWS, seed=0, var="op_abs", **scalars) -> xr.Dataset:
    """``var`` over (coords..., draw) whose sample mean over draws is exactly mean(**coords as DataArrays)."""
    axes = {k: xr.DataArray(np.asarray(v), dims=k, coords={k: v}) for k, v in coords.items()}
    expected = xr.DataArray(mean(**axes)).broadcast_like(xr.Dataset(axes)).transpose(*coords)
    rng = np.random.default_rng(seed)
    u = np.exp(noise * rng.standard_normal(n_draws))
    u /= u.mean()
    cells = int(np.prod(expected.shape))
    factors = np.stack([rng.permutation(u) for _ in range(cells)]).reshape(*expected.shape, n_draws)
    values = expected.values[..., None] * factors
    dev = xr.Dataset(
        {var: ((*coords, "draw"), values)},
        coords={**{k: list(v) for k, v in coords.items()}, "draw": np.arange(n_draws)},
    )
    return dev.assign_coords(scalars)


def _only(table: pd.DataFrame, *needles: str) -> pd.Series:
    hits = table[[all(n in c for n in needles) for c in table.claim]]
    assert len(hits) == 1, (needles, table.claim.tolist())
    return hits.iloc[0]


def _table(dev=None, spec=None, **kwargs) -> pd.DataFrame:
    return claims_table(dev, spec, n_boot=N_BOOT, seed=1, **kwargs)


WIDTHS = [8, 32, 64, 128, 256]


@pytest.mark.parametrize(
    ("slope", "noise", "n_draws", "verdict"),
    [(-0.5, NOISE, N_DRAWS, "holds"), (-0.8, NOISE, N_DRAWS, "fails"), (-0.6, EDGE_NOISE, EDGE_DRAWS, "inconclusive")],
)
def test_slope_rows(slope, noise, n_draws, verdict):
    def mean(base_width, activation):  # with an O(1/m) bend below m_min = 32, which the fit ignores
        return 2.0 * base_width**slope * xr.where(base_width < 32, 3.0, 1.0)

    dev = _deviations({"activation": ["relu"], "base_width": WIDTHS}, mean, noise, n_draws)
    row = _only(_table(dev), "slope of log mean op_abs vs log m")
    assert (row.kind, row.predicted, row.margin, row.verdict) == ("measured", -0.5, DEFAULTS["slope_margin"], verdict)
    assert "m=32..256" in row.claim and row.ci_low <= row.measured <= row.ci_high
    assert row.measured == pytest.approx(slope, abs=1e-12)  # sample means are exactly planted


DEPTHS = [2, 4, 8]


@pytest.mark.parametrize(
    ("schedule", "exponent", "noise", "n_draws", "verdict"),
    [
        ("quadratic", 0.0, NOISE, N_DRAWS, "holds"),
        ("quadratic", 0.6, NOISE, N_DRAWS, "fails"),
        ("quadratic", 0.25, EDGE_NOISE, EDGE_DRAWS, "inconclusive"),
        ("constant", 0.7, NOISE, N_DRAWS, "holds"),
        ("constant", 0.0, NOISE, N_DRAWS, "fails"),
        ("constant", 0.25, EDGE_NOISE, EDGE_DRAWS, "inconclusive"),
    ],
)
def test_depth_rows(schedule, exponent, noise, n_draws, verdict):
    dev = _deviations(
        {"depth": DEPTHS, "base_width": [64, 128]},
        lambda depth, base_width: depth**exponent * base_width**-0.5,
        noise,
        n_draws,
        var="op_rel",
        schedule=schedule,
    )
    row = _only(_table(dev, var="op_rel"), f"{schedule} schedule: mean op_rel")
    word = "flat" if schedule == "quadratic" else "grows"
    assert word in row.claim and "base_width=128" in row.claim and "l=2..8" in row.claim
    assert (row.kind, row.predicted, row.verdict) == ("measured", 0.0, verdict)


def test_depth_rows_use_the_relative_deviation_and_need_three_depths():
    coords = {"depth": DEPTHS, "base_width": [64, 128]}
    dev = _deviations(coords, lambda depth, base_width: depth * base_width**-0.5, schedule="quadratic")
    rel = _deviations(coords, lambda depth, base_width: 0 * depth + base_width**-0.5, var="op_rel", seed=2)
    row = _only(_table(dev.merge(rel)), "quadratic schedule: mean op_rel flat")
    assert row.verdict == "holds"  # op_abs grows like l, op_rel is flat: the row reads op_rel
    two = _table(dev.merge(rel).sel(depth=[2, 4]))
    assert not two.claim.str.contains("schedule: mean").any()


@pytest.mark.parametrize("along", ["depth", "output_dim"])
@pytest.mark.parametrize(("offset", "verdict"), [(-0.3, "holds"), (0.4, "fails"), (0.05, "inconclusive")])
def test_bound_rows(along, offset, verdict):
    relu = Activation.named("relu")
    values = [2, 4, 8] if along == "depth" else [1, 2, 4]
    fixed = {"output_dim": 1} if along == "depth" else {"depth": 4}
    bound = bound_log_slope(relu, values if along == "depth" else [4], [1] if along == "depth" else values)
    wide = verdict == "inconclusive"
    dev = _deviations(
        {along: values, "base_width": [64]},
        lambda base_width, **c: c[along] ** (bound + offset) + 0 * base_width,
        EDGE_NOISE if wide else NOISE,
        EDGE_DRAWS if wide else N_DRAWS,
        schedule="quadratic",
        activation="relu",
        **fixed,
    )
    symbol = "l" if along == "depth" else "m_l"
    row = _only(_table(dev), f"op_abs in {symbol} at most the bound's")
    assert (row.kind, row.verdict, row.margin) == ("bound", verdict, DEFAULTS["bound_margin"])
    assert row.predicted == pytest.approx(bound)


def test_bound_rows_only_for_the_quadratic_schedule():
    dev = _deviations({"depth": [2, 4], "base_width": [64]}, lambda depth, base_width: depth + 0 * base_width,
                      schedule="constant", activation="relu", output_dim=1)  # fmt: skip
    assert not _table(dev).claim.str.contains("at most the bound").any()


@pytest.mark.parametrize(
    ("abs_level", "noise", "n_draws", "verdict"),
    [(0.5, NOISE, N_DRAWS, "holds"), (2.0, NOISE, N_DRAWS, "fails"), (1.0, EDGE_NOISE, EDGE_DRAWS, "inconclusive")],
)
def test_abs_relu_ratio_rows(abs_level, noise, n_draws, verdict):
    level = xr.DataArray([1.0, abs_level], dims="activation", coords={"activation": ["relu", "abs"]})
    dev = _deviations(
        {"activation": ["relu", "abs"], "base_width": [64]},
        lambda activation, base_width: level + 0 * base_width,
        noise,
        n_draws,
        depth=4,
        output_dim=1,
    )
    row = _only(_table(dev), "ratio abs/relu")
    assert (row.predicted, row.verdict) == (1.0, verdict)
    assert row.measured == pytest.approx(abs_level, rel=1e-12)
    assert "bound factor ratio 0.31" in row.claim  # (1 + 4) / ((4 + 4) * 2) = 0.3125


@pytest.fixture(scope="module")
def relu_x() -> np.ndarray:
    x = np.random.default_rng(3).standard_normal((8, 16))
    return x * np.sqrt(16) / np.linalg.norm(x, axis=1, keepdims=True)


LIMIT_ROWS = ("Theta_l/l - 1/4", "lambda_min n/l", "lambda_max n/l", "cond - 1 - n/3", "plain inverse-cosine",
              "corrected inverse-cosine")  # fmt: skip


def _wrong_coefficient(spec: xr.Dataset) -> xr.Dataset:
    """Every asymptotic form off by half its ln-l coefficient (and the inverse-cosine errors by 1/l)."""
    ls = spec.depth.astype(float)
    out = spec.copy()
    for var, coef in (("theta_offdiag_scaled_mean", 0.375), ("lambda_min_scaled", 0.375), ("lambda_max_scaled", 2.625),
                      ("cond", 16 / 3)):  # fmt: skip
        out[var] = spec[var] + 0.5 * coef * np.log(ls) / ls
    out["inv_cos_relerr_plain_median"] = spec.inv_cos_relerr_plain_median + 0.5 / ls
    out["inv_cos_relerr_corrected_max"] = spec.inv_cos_relerr_corrected_max + 0.5 / ls
    return out


@pytest.mark.parametrize(
    ("depths", "perturb", "verdict"),
    [([1000, 2000, 5000, 10_000], False, "holds"), ([1000, 2000, 5000, 10_000], True, "fails"),
     ([100, 200, 500], False, "inconclusive")],
)  # fmt: skip
def test_deep_limit_rows(relu_x, depths, perturb, verdict):
    spec = limit_spectrum(relu_x, Activation.named("relu"), [10, *depths])
    spec = _wrong_coefficient(spec) if perturb else spec
    table = _table(spec=spec)
    assert len(table) == len(LIMIT_ROWS)
    for needle in LIMIT_ROWS:
        row = _only(table, needle)
        assert row.verdict == verdict, (needle, row.measured, row.predicted)
        assert row.kind == "measured" and math.isnan(row.ci_low) and math.isnan(row.ci_high)
    assert _only(table, "cond - 1 - n/3").predicted == pytest.approx(16 / 3)
    assert _only(table, "plain inverse-cosine").predicted == 0.5


def test_deep_limit_rows_need_two_depths_from_the_minimum(relu_x):
    spec = limit_spectrum(relu_x, Activation.named("abs"), [10, 50, 500])
    assert _table(spec=spec).empty
    assert len(_table(spec=spec, limit_min_depth=50)) == len(LIMIT_ROWS)


def test_rows_are_reproducible_and_nan_is_refused():
    dev = _deviations({"activation": ["relu", "abs"], "base_width": [32, 64, 128]},
                      lambda activation, base_width: base_width**-0.5, depth=3, output_dim=1)  # fmt: skip
    pd.testing.assert_frame_equal(_table(dev), _table(dev))
    bad = dev.copy(deep=True)
    bad["op_abs"][0, 0, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        _table(bad)


def test_table_is_written_as_csv_and_markdown(relu_x, tmp_path):
    dev = _deviations({"activation": ["relu", "abs"], "base_width": [32, 64, 128]},
                      lambda activation, base_width: base_width**-0.5, depth=3, output_dim=1)  # fmt: skip
    table = _table(dev, limit_spectrum(relu_x, Activation.named("relu"), [1000, 2000, 5000]))
    assert tuple(table.columns) == COLUMNS
    csv, md = tmp_path / "tables" / "claims.csv", tmp_path / "tables" / "claims.md"
    write_claims(table, csv, md)
    back = pd.read_csv(csv)
    assert tuple(back.columns) == COLUMNS and len(back) == len(table)
    assert back.ci_low.isna().sum() == table.ci_low.isna().sum()
    text = md.read_text()
    assert text.startswith("| claim | kind | predicted |") and "Verdict rules" in text
    assert sum(line.startswith("| ") for line in text.splitlines()) == len(table) + 1  # header + claims
    rules = table.rule.unique()
    assert all(f"- **R{k + 1}**: {r}" in text for k, r in enumerate(rules))
    assert "equivalence, margin 0.1" in text and "resample draw ids jointly" in text
    assert claims_markdown(table) == text


def test_fluctuation_rows_join_the_table():
    coords = {"base_width": [64], "activation": "relu", "schedule": "constant", "depth": 5}
    boot = 0.23 * np.linspace(0.95, 1.05, 2001)  # pooled CI [0.955, 1.045] x predicted
    data = {"v_diag": ("base_width", [0.23]), "v_diag_pred": ("base_width", [0.23]),
            "v_diag_boot": (("base_width", "resample"), boot[None])}  # fmt: skip
    summary = xr.Dataset(data, coords=coords, attrs={"confidence": 0.95})
    row = _only(_table(fluctuations=summary, fluctuation_margin=0.02), "V_diag = prod_k")
    assert (row.verdict, row.margin) == ("inconclusive", 0.02)  # CI [0.955, 1.045] vs band [0.98, 1.02]
    assert _only(_table(fluctuations=summary, fluctuation_margin=0.05), "V_diag = prod_k").verdict == "holds"


def test_bad_settings_name_the_key():
    dev = _deviations({"base_width": [32, 64]}, lambda base_width: base_width**-0.5)
    with pytest.raises(ValueError, match="m_min=-1"):
        _table(dev, m_min=-1)
    with pytest.raises(ValueError, match="var='fro_abs'"):
        _table(dev, var="fro_abs")
    with pytest.raises(ValueError, match="depth_var='op_rel'"):
        _table(dev, depth_var="op_rel")
    with pytest.raises(ValueError, match="limit_min_depth=1"):
        _table(dev, limit_min_depth=1)
    with pytest.raises(ValueError, match=r"margin=-0\.1"):
        _table(dev, slope_margin=-0.1)
