"""V_diag and V_off from draws, the predicted law beside them, and their claim rows (ntk_eoc.analysis.fluctuations)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ntk_eoc import Activation, widths
from ntk_eoc.analysis.fluctuations import (
    fluctuation_note,
    fluctuation_rows,
    fluctuation_summary,
    measure_fluctuations,
    pooled_ratio,
    predicted_curves,
    predicted_fluctuations,
)
from ntk_eoc.math.fluctuations import hanin_nica, v_diag, v_diag_quadratic_limit, v_dsum

# Means and variances of <= 200 float64 values by two routes (weights vs numpy): a few ulps.
FLOAT64_RTOL = 1e-12
N_BOOT = 200


def _random_kernels(rng: np.random.Generator, n_draws: int, size: int) -> np.ndarray:
    """Symmetric positive definite draws: G G^T / size with a positive diagonal."""
    g = rng.standard_normal((n_draws, size, size + 2))
    return g @ np.swapaxes(g, 1, 2) / size


def _draws(values: np.ndarray, ids=None, **coords) -> xr.DataArray:
    ids = np.arange(values.shape[-3]) if ids is None else np.asarray(ids)
    dims = (*coords, "draw", "i", "j")
    return xr.DataArray(values, dims=dims, coords={**coords, "draw": ids})


def _numpy_route(k: np.ndarray, output_dim: int = 1) -> tuple[float, float]:
    """V_diag, V_off by explicit per-entry numpy statistics (ddof = 1)."""
    mean, var = k.mean(axis=0), k.var(axis=0, ddof=1)
    d = np.diag(mean)
    v_diag_ = np.mean(np.diag(var) / d**2)
    size = k.shape[-1]
    pairs = [(e, f) for e in range(size) for f in range(e + 1, size)
             if e % output_dim == f % output_dim and e // output_dim != f // output_dim]  # fmt: skip
    v_off = np.mean([var[e, f] / (d[e] * d[f]) for e, f in pairs])
    return float(v_diag_), float(v_off)


def test_measured_values_equal_per_entry_numpy_statistics():
    k = _random_kernels(np.random.default_rng(0), 150, 5)
    out = measure_fluctuations(_draws(k), n_boot=N_BOOT, seed=1)
    expected = _numpy_route(k)
    assert (float(out.v_diag), float(out.v_off)) == pytest.approx(expected, rel=FLOAT64_RTOL)
    assert float(out.mean_diag) == pytest.approx(np.mean(np.einsum("sii->si", k)), rel=FLOAT64_RTOL)
    for name in ("v_diag", "v_off"):
        assert float(out[f"{name}_ci_low"]) < float(out[name]) < float(out[f"{name}_ci_high"])
        assert float(out[f"{name}_se"]) > 0
    assert int(out.n_draws) == 150 and "common random numbers" in out.attrs["random_numbers"]


def test_per_entry_ratios_do_not_depend_on_input_norms():
    # K(c x, c x') = c c' K(x, x') draw by draw for a homogeneous activation: D K D leaves V unchanged
    k = _random_kernels(np.random.default_rng(2), 100, 4)
    scale = np.diag([1.0, 2.0, 0.5, 3.0])
    a, b = (measure_fluctuations(_draws(v), n_boot=N_BOOT, seed=3) for v in (k, scale @ k @ scale))
    for name in ("v_diag", "v_off", "v_diag_ci_low", "v_off_ci_high"):
        assert float(b[name]) == pytest.approx(float(a[name]), rel=FLOAT64_RTOL)


def test_several_outputs_use_the_diagonal_and_same_output_pairs_only():
    rng = np.random.default_rng(4)
    k = _random_kernels(rng, 120, 6)  # n = 3 points, m_l = 2: index = point * 2 + output
    out = measure_fluctuations(_draws(k), output_dim=2, n_boot=N_BOOT, seed=5)
    assert (float(out.v_diag), float(out.v_off)) == pytest.approx(_numpy_route(k, 2), rel=FLOAT64_RTOL)
    noisy = k.copy()
    noisy[:, 0, 1] = noisy[:, 1, 0] = 100.0 * rng.standard_normal(120)  # point 0, outputs 0 and 1: excluded
    again = measure_fluctuations(_draws(noisy), output_dim=2, n_boot=N_BOOT, seed=5)
    assert float(again.v_off) == float(out.v_off) and float(again.v_diag) == float(out.v_diag)


def test_cells_share_resamples_and_draws_align_by_id():
    k = _random_kernels(np.random.default_rng(6), 80, 3)
    both = measure_fluctuations(_draws(np.stack([k, k]), base_width=[16, 32]), n_boot=N_BOOT, seed=7)
    np.testing.assert_array_equal(both.v_diag_ci_low.values[0], both.v_diag_ci_low.values[1])  # joint resamples
    order = np.random.default_rng(8).permutation(80)
    shuffled = measure_fluctuations(_draws(k[order], ids=order), n_boot=N_BOOT, seed=7)
    np.testing.assert_allclose(shuffled.v_diag_ci_high, both.v_diag_ci_high.values[0], rtol=FLOAT64_RTOL)


@pytest.mark.parametrize(
    ("kernels", "kwargs", "message"),
    [
        (xr.DataArray(np.ones((4, 2, 2)), dims=("draw", "i", "j")), {}, "draw ids as coordinate"),
        (_draws(np.full((4, 2, 2), np.nan)), {}, "non-finite"),
        (_draws(np.ones((4, 1, 1))), {}, ">= 2 points"),
        (_draws(np.ones((4, 4, 4))), {"output_dim": 3}, "output_dim=3"),
        (_draws(np.ones((1, 2, 2))), {}, ">= 2 draws"),
        (_draws(-np.ones((3, 2, 2))), {}, "diagonal entry"),
    ],
)
def test_bad_input_is_refused(kernels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        measure_fluctuations(kernels, n_boot=N_BOOT, seed=0, **kwargs)


def test_predictions_come_from_dims_and_scalar_coords():
    cells = xr.Dataset(coords={"base_width": [16, 32], "schedule": ["quadratic", "constant"]})
    cells = cells.assign_coords(activation="relu", depth=5)
    pred = predicted_fluctuations(cells)
    assert pred.v_diag_pred.dims == ("base_width", "schedule")
    expected = v_diag(Activation.named("relu"), widths("constant", 32, 5, 1)[1:-1])
    assert float(pred.v_diag_pred.sel(base_width=32, schedule="constant")) == pytest.approx(expected, rel=1e-15)
    assert float(pred.beta.sel(base_width=16, schedule="quadratic")) == pytest.approx(
        sum(1 / (k * k * 16) for k in range(1, 5))
    )
    with pytest.raises(ValueError, match="'depth' is neither a dim nor a scalar coordinate"):
        predicted_fluctuations(cells.drop_vars("depth"))
    with pytest.raises(ValueError, match="schedule='cubic'"):
        predicted_fluctuations(cells.sel(schedule=["quadratic"]).assign_coords(schedule=["cubic"]))


def test_summary_puts_measured_beside_predicted():
    k = _random_kernels(np.random.default_rng(9), 60, 3)
    draws = _draws(k[None], base_width=[32]).assign_coords(activation="abs", schedule="constant", depth=3)
    out = fluctuation_summary(draws, n_boot=N_BOOT, seed=10).squeeze("base_width")
    pred = v_diag(Activation.named("abs"), [32, 32])
    assert float(out.v_diag_pred) == pytest.approx(pred, rel=1e-15)
    assert float(out.v_diag_ratio_ci_low) == pytest.approx(float(out.v_diag_ci_low) / pred, rel=1e-15)
    assert out.activation.item() == "abs" and out.depth.item() == 3


def _summary(low: float, high: float, ratios=None, depth: int = 5, widths=(16, 64, 256), pred=(0.23, 0.11, 0.05),
             dsum_excess: float = 1.02) -> xr.Dataset:  # fmt: skip
    """A constant-width summary whose resampled ratios V/V_pred run evenly from ``low`` to ``high`` at every
    width and whose point ratio is their midpoint, with constant leave-one-out values: the BCa interval is
    then the percentile interval, low + 0.025 (high - low) and its mirror (quantiles of 2001 even values).
    V_dsum is ``dsum_excess`` x the product form; beta = (l - 1)/m."""
    coords = {"base_width": list(widths), "activation": "relu", "schedule": "constant", "depth": depth}
    pred = np.asarray(pred)[: len(widths)]
    mid = 0.5 * (low + high)
    ratios = np.full(len(widths), mid) if ratios is None else np.asarray(ratios)
    spread = np.linspace(low, high, 2001)
    data = {
        "v_diag": ("base_width", ratios * pred),
        "v_diag_pred": ("base_width", pred),
        "v_dsum_pred": ("base_width", dsum_excess * pred),
        "beta": ("base_width", (depth - 1) / np.asarray(widths, dtype=float)),
        "v_diag_boot": (("base_width", "resample"), pred[:, None] * spread[None, :]),
        "v_diag_jack": (("base_width", "draw"), (ratios * pred)[:, None].repeat(50, axis=1)),
    }
    return xr.Dataset(data, coords=coords, attrs={"confidence": 0.95})


def _form(rows: list[dict], text: str) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    return table[table.claim.str.contains(text, regex=False)]


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [(0.95, 1.05, "holds"), (1.11, 1.3, "fails"), (0.7, 0.89, "fails"), (1.0, 1.2, "inconclusive")],
)  # band 1 +- 0.1; the CI is low + 0.025 (high - low) .. high - 0.025 (high - low)
def test_fluctuation_rows_reach_every_verdict(low, high, verdict):
    rows = _form(fluctuation_rows(_summary(low, high), margin=0.1, m_min=32), "product form")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row.kind, row.predicted, row.verdict, row.margin) == ("measured", 1.0, verdict, 0.1)
    assert "activation=relu, schedule=constant, depth=5" in row.claim and "m=64..256" in row.claim
    assert "beta=0.0156..0.0625" in row.claim
    assert "predicted x (1 +- 0.1)" in row.rule
    # z0 = 0 up to the rounding of the point against its resampled twin: within two resample spacings
    assert row.ci_low == pytest.approx(low + 0.025 * (high - low), abs=2 * (high - low) / 2000)


def test_each_form_is_posed_only_in_its_range_of_beta_and_v():
    # depth 5, m = 64..256: beta <= 0.0625: both forms; V_dsum's ratio is the product form's / 1.02
    rows = fluctuation_rows(_summary(0.95, 1.05), m_min=32)
    product, dsum = _form(rows, "product form"), _form(rows, "V_dsum")
    assert len(product) == 1 and len(dsum) == 1
    assert dsum.measured.iloc[0] == pytest.approx(product.measured.iloc[0] / 1.02, rel=1e-12)
    # depth 33 at m = 64: beta = 0.5 -> V_dsum only (product form up to 0.25)
    rows = fluctuation_rows(_summary(0.95, 1.05, depth=33), m_min=32)
    assert _form(rows, "product form").empty and len(_form(rows, "V_dsum")) == 1
    assert fluctuation_note(_summary(0.95, 1.05, depth=33), m_min=32) == ""
    # depth 41: beta = 0.625 -> neither form; the note names the configuration and its beta
    deep = _summary(0.95, 1.05, depth=41)
    assert fluctuation_rows(deep, m_min=32) == []
    note = fluctuation_note(deep, m_min=32)
    assert "beta up to 0.62" in note and "product form: beta <= 0.25" in note
    # predicted V_diag above v_max: neither form, whatever beta
    big = _summary(0.95, 1.05, pred=(3.0, 2.0, 1.8))
    assert fluctuation_rows(big, m_min=32) == [] and "V_diag ~ 2" in fluctuation_note(big, m_min=32)
    assert len(fluctuation_rows(big, m_min=32, v_max=2.5)) == 2
    # depth 2 is the identity: one product-form calibration row, no V_dsum row
    rows = pd.DataFrame(fluctuation_rows(_summary(0.95, 1.05, depth=2), m_min=32))
    assert rows.role.tolist() == ["calibration"] and "product form" in rows.claim.iloc[0]
    # quadratic widths: the forms agree within 1%, only the product form is posed
    quad = _summary(0.95, 1.05).assign_coords(schedule="quadratic")
    assert _form(fluctuation_rows(quad, m_min=32), "V_dsum").empty


def test_pooled_ratio_is_the_geometric_mean_over_widths_from_m_min():
    summary = _summary(0.9, 1.1, ratios=[0.5, 0.8, 1.25])
    pooled = pooled_ratio(summary, m_min=64)
    assert pooled.attrs["widths"] == [64, 256]
    assert float(pooled.ratio) == pytest.approx(1.0, rel=1e-12)  # sqrt(0.8 x 1.25); m = 16 left out
    assert float(pooled_ratio(summary, m_min=1).ratio) == pytest.approx(0.5 ** (1 / 3), rel=1e-12)
    assert float(pooled_ratio(summary, m_min=64, form="dsum").ratio) == pytest.approx(1 / 1.02, rel=1e-12)
    assert float(pooled.beta_max) == pytest.approx(4 / 64) and float(pooled.v_pred_max) == pytest.approx(0.11)
    assert fluctuation_rows(summary, m_min=512) == []
    for name in ("v_diag_boot", "v_diag_jack", "v_dsum_pred"):
        with pytest.raises(ValueError, match=name):
            pooled_ratio(summary.drop_vars(name), m_min=1)
    with pytest.raises(ValueError, match="form='sum'"):
        pooled_ratio(summary, m_min=1, form="sum")


def test_pooled_interval_is_paired_across_widths():
    """Resampled V_diag at two widths that move together (the same draws) keep the pooled CI as wide as
    one width's; resampled independently they would narrow it by ~1/sqrt(2)."""
    draws = _draws(_random_kernels(np.random.default_rng(3), 80, 3)[None].repeat(2, axis=0), base_width=[64, 128])
    draws = draws.assign_coords(activation="relu", schedule="quadratic", depth=2)
    out = fluctuation_summary(draws, n_boot=N_BOOT, seed=4)
    one = pooled_ratio(out.isel(base_width=[0]), m_min=1)
    both = pooled_ratio(out, m_min=1)
    width = lambda p: float(np.log(p.ratio_ci_high) - np.log(p.ratio_ci_low))  # noqa: E731
    assert width(both) == pytest.approx(width(one), rel=0.05)
    assert out.v_diag_boot.sizes["resample"] == N_BOOT


def test_predicted_curves_evaluate_the_law_at_every_depth():
    curves = predicted_curves(["relu", "abs"], 32, [2, 9])
    relu = Activation.named("relu")
    assert float(curves.v_diag_pred.sel(activation="relu", schedule="constant", depth=9)) == pytest.approx(
        1.302, abs=5e-4
    )  # SCIENCE §6
    assert float(curves.quadratic_limit.sel(activation="relu")) == v_diag_quadratic_limit(relu, 32)
    hidden = widths("constant", 32, 9, 1, 1)[1:-1]
    assert float(curves.v_dsum_pred.sel(activation="relu", schedule="constant", depth=9)) == v_dsum(relu, hidden)
    assert float(curves.hanin_nica.sel(schedule="constant", depth=9)) == hanin_nica(hidden)
    assert float(curves.beta.sel(schedule="constant", depth=9)) == pytest.approx(8 / 32, rel=1e-15)
    assert curves.v_diag_pred.dims == ("activation", "schedule", "depth") and int(curves.base_width) == 32


def test_fluctuation_rows_name_every_swept_key():
    one = _summary(0.95, 1.05).assign_coords(schedule="quadratic")
    two = xr.concat([one, one], dim=pd.Index([8, 64], name="dataset.input_dim"))
    claims = [row["claim"] for row in fluctuation_rows(two, m_min=32)]
    assert len(set(claims)) == 2
    assert all("depth=5, dataset.input_dim=" in c for c in claims)


def test_one_network_of_two_schedules_gets_one_row():
    """At depth 2 the quadratic and constant schedules build the same network: one row naming both; at
    depth 5 they are two networks, two rows."""
    for depth, count in ((2, 1), (5, 2)):
        one = _summary(0.95, 1.05, depth=depth)
        both = xr.concat([one, one.assign_coords(schedule="quadratic")], dim="schedule")
        rows = _form(fluctuation_rows(both, m_min=32), "product form")
        assert len(rows) == count
        if count == 1:
            assert "schedule=constant,quadratic, depth=2" in rows.claim.iloc[0]
