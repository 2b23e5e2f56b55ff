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
from ntk_eoc.analysis.claims.concentration_rows import deep_pair, law_slope
from ntk_eoc.analysis.claims.limit_rows import delta_rows
from ntk_eoc.analysis.claims.table import COLUMNS, DEFAULTS, claims_markdown, claims_table, write_claims
from ntk_eoc.analysis.spectrum import limit_spectrum
from ntk_eoc.analysis.stats import bound_log_slope, theory_bound_factor

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


# The law's slope of sqrt(V_diag) over m = 32..256 at depth 8 (SCIENCE §8.3: -0.509 quadratic relu).
LAW_SLOPE = law_slope(Activation.named("relu"), "quadratic", 8, [32, 64, 128, 256])


@pytest.mark.parametrize(
    ("slope", "noise", "n_draws", "verdict"),
    [
        (LAW_SLOPE, NOISE, N_DRAWS, "holds"),
        (-0.8, NOISE, N_DRAWS, "fails"),
        (LAW_SLOPE - 0.1, EDGE_NOISE, EDGE_DRAWS, "inconclusive"),
    ],
)
def test_slope_rows_compare_with_the_laws_slope_at_the_fitted_widths(slope, noise, n_draws, verdict):
    def mean(base_width, activation):  # with an O(1/m) bend below m_min = 32, which the fit ignores
        return 2.0 * base_width**slope * xr.where(base_width < 32, 3.0, 1.0)

    dev = _deviations({"activation": ["relu"], "base_width": WIDTHS}, mean, noise, n_draws, schedule="quadratic",
                      depth=8)  # fmt: skip
    row = _only(_table(dev), "slope of log mean op_abs vs log m")
    assert (row.kind, row.role, row.margin, row.verdict) == ("measured", "claim", DEFAULTS["slope_margin"], verdict)
    assert row.predicted == pytest.approx(LAW_SLOPE) and -0.52 < LAW_SLOPE < -0.5
    assert "m=32..256" in row.claim and row.ci_low <= row.measured <= row.ci_high
    assert row.measured == pytest.approx(slope, abs=1e-12)  # sample means are exactly planted


def test_the_laws_slope_is_steeper_than_one_half_for_constant_widths_at_small_m():
    """SCIENCE §8.3: -0.569 (relu) and -0.524 (abs) for constant widths over m = 32..256 at depth 8."""
    ms = [32, 64, 128, 256]
    assert law_slope(Activation.named("relu"), "constant", 8, ms) == pytest.approx(-0.569, abs=0.002)
    assert law_slope(Activation.named("abs"), "constant", 8, ms) == pytest.approx(-0.524, abs=0.002)
    assert law_slope(Activation.named("relu"), "constant", 8, [2**14, 2**15]) == pytest.approx(-0.5, abs=0.002)


def test_slope_and_ratio_rows_are_posed_once_per_network():
    """A sweep whose deepest networks have depth 2 builds the same network for both schedules: one slope row
    per activation and one ratio row, each naming both schedules (SCIENCE §8.5)."""

    def mean(activation, schedule, base_width):
        return xr.where(activation == "abs", 0.5, 1.0) * base_width**-0.5 + 0 * (schedule == "")

    coords = {"activation": ["relu", "abs"], "schedule": ["quadratic", "constant"], "base_width": WIDTHS}
    for depth, rows in ((2, 2), (3, 4)):
        table = _table(_deviations(coords, mean, depth=depth, output_dim=1))
        slopes = table[table.claim.str.startswith("slope of log mean")]
        assert len(slopes) == rows and len(table[table.claim.str.contains("ratio abs/relu")]) == rows // 2
        if depth == 2:
            assert all("schedule=quadratic,constant" in c for c in slopes.claim)


DEEP = [2, 4, 8, 16, 32]
ROLES = {"quadratic": "claim", "constant": "control"}


@pytest.mark.parametrize("schedule", ["quadratic", "constant"])
@pytest.mark.parametrize(
    ("exponent", "noise", "n_draws", "verdict"),
    [(0.0, NOISE, N_DRAWS, "holds"), (0.6, NOISE, N_DRAWS, "fails"), (0.25, EDGE_NOISE, EDGE_DRAWS, "inconclusive")],
)
def test_flat_rows_read_the_deep_pair(schedule, exponent, noise, n_draws, verdict):
    """Flatness is the exponent over (L/2, L) = (16, 32); the shallow depths may bend as they like."""

    def mean(depth, base_width):
        return xr.where(depth >= 16, depth**exponent, 5.0 * depth) * base_width**-0.5

    coords = {"depth": DEEP, "base_width": [64]}
    rel = _deviations(coords, mean, noise, n_draws, var="op_rel")
    dev = _deviations(coords, mean, n_draws=n_draws, seed=2).merge(rel)
    dev = dev.assign_coords(schedule=schedule, activation="relu", output_dim=1)
    row = _only(_table(dev), "mean op_rel flat in depth")
    assert "l=16->32" in row.claim and "base_width=64" in row.claim
    assert (row.kind, row.role, row.predicted, row.verdict) == ("measured", ROLES[schedule], 0.0, verdict)
    assert row.measured == pytest.approx(exponent, abs=1e-12)


@pytest.mark.parametrize("schedule", ["quadratic", "constant"])
@pytest.mark.parametrize(
    ("excess", "noise", "n_draws", "verdict"),
    [(-0.1, NOISE, N_DRAWS, "holds"), (0.5, NOISE, N_DRAWS, "fails"), (0.15, EDGE_NOISE, EDGE_DRAWS, "inconclusive")],
)
def test_bound_depth_form_rows(schedule, excess, noise, n_draws, verdict):
    """s = log2 growth of mean op_abs minus that of b(l) = Delta^-2 + sqrt(m_l) l over (16, 32), AtMost 0 +
    0.15; op_abs planted as b(l) l^excess, so s = excess exactly."""
    relu = Activation.named("relu")
    b = xr.DataArray([theory_bound_factor(relu, d, 1) for d in DEEP], dims="depth", coords={"depth": DEEP})
    coords = {"depth": DEEP, "base_width": [8, 64]}
    dev = _deviations(coords, lambda depth, base_width: b * depth**excess * base_width**-0.5, noise, n_draws)
    flat = _deviations(coords, lambda depth, base_width: 0 * depth + base_width**-0.5, n_draws=n_draws, var="op_rel")
    dev = dev.merge(flat)
    table = _table(dev.assign_coords(schedule=schedule, activation="relu", output_dim=1))
    row = _only(table, "bound's depth form")
    assert (row.kind, row.role, row.verdict, row.margin) == ("bound", ROLES[schedule], verdict, 0.15)
    assert row.measured == pytest.approx(excess, abs=1e-12) and "base_width=64" in row.claim  # m = 8 < 16: no row
    r = [d**excess for d in DEEP]  # R(l) = l^excess (kappa^2 = 1 for relu)
    assert "R(l) = op_abs / bound at l=[2, 4, 8, 16, 32]: " + ", ".join(f"{v:.3g}" for v in r) in row.claim


def test_depth_rows_need_a_deep_pair_and_say_where_they_are():
    coords = {"depth": [2, 4, 8], "base_width": [64]}
    dev = _deviations(coords, lambda depth, base_width: depth * base_width**-0.5)
    dev = dev.merge(_deviations(coords, lambda depth, base_width: depth * base_width**-0.5, var="op_rel", seed=2))
    table = _table(dev.assign_coords(schedule="quadratic", activation="relu", output_dim=1))
    assert not table.claim.str.contains("depth form|flat in depth").any()
    (note,) = table.attrs["notes"]
    assert "L >= 32" in note and "l = [2, 4, 8]" in note and "`depth` experiment" in note
    assert note in claims_markdown(table)
    assert deep_pair([2, 4, 8, 16, 32], 32) == (16, 32) and deep_pair([2, 8, 32], 32) is None
    assert deep_pair([4, 8, 16], 32) is None and deep_pair([4, 8, 16], 16) == (8, 16)


def test_bound_rows_in_the_output_dimension():
    relu = Activation.named("relu")
    bound = bound_log_slope(relu, [4], [1, 2, 4])
    for offset, verdict in [(-0.3, "holds"), (0.4, "fails")]:
        dev = _deviations({"output_dim": [1, 2, 4], "base_width": [64]},
                          lambda base_width, output_dim, e=bound + offset: output_dim**e + 0 * base_width,
                          schedule="quadratic", activation="relu", depth=4)  # fmt: skip
        row = _only(_table(dev), "op_abs in m_l at most the bound's")
        assert (row.kind, row.verdict, row.margin) == ("bound", verdict, DEFAULTS["bound_margin"])
        assert row.predicted == pytest.approx(bound)

    def linear(output_dim, base_width):
        return output_dim + 0 * base_width

    const = _deviations({"output_dim": [1, 2], "base_width": [64]}, linear, schedule="constant", activation="relu",
                        depth=4)  # fmt: skip
    assert not _table(const).claim.str.contains("at most the bound").any()  # the bound is proved for k^2 m only


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
    table = _table(dev)
    row, control = _only(table, "ratio abs/relu"), _only(table, "ratio relu/abs")
    assert (row.predicted, row.verdict) == (1.0, verdict)
    assert row.measured == pytest.approx(abs_level, rel=1e-12)
    swapped = {"holds": "fails", "fails": "holds", "inconclusive": "inconclusive"}[verdict]
    assert (control.role, control.verdict) == ("control", swapped)
    assert control.measured == pytest.approx(1 / abs_level) and control.ci_low == pytest.approx(1 / row.ci_high)
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
                      lambda activation, base_width: base_width**-0.5, depth=3, output_dim=1,
                      schedule="quadratic")  # fmt: skip
    pd.testing.assert_frame_equal(_table(dev), _table(dev))
    bad = dev.copy(deep=True)
    bad["op_abs"][0, 0, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        _table(bad)


def test_table_is_written_as_csv_and_markdown(relu_x, tmp_path):
    dev = _deviations({"activation": ["relu", "abs"], "base_width": [32, 64, 128]},
                      lambda activation, base_width: base_width**-0.5, depth=3, output_dim=1,
                      schedule="quadratic")  # fmt: skip
    table = _table(dev, limit_spectrum(relu_x, Activation.named("relu"), [1000, 2000, 5000]))
    assert tuple(table.columns) == COLUMNS
    csv, md = tmp_path / "tables" / "claims.csv", tmp_path / "tables" / "claims.md"
    write_claims(table, csv, md)
    back = pd.read_csv(csv)
    assert tuple(back.columns) == COLUMNS and len(back) == len(table)
    assert back.ci_low.isna().sum() == table.ci_low.isna().sum()
    text = md.read_text()
    assert text.startswith("| claim | kind | role | predicted |") and "Verdict rules" in text
    assert sum(line.startswith("| ") for line in text.splitlines()) == len(table) + 1  # header + claims
    rules = table.rule.unique()
    assert all(f"- **R{k + 1}**: {r}" in text for k, r in enumerate(rules))
    assert "equivalence, margin 0.1" in text and "resample draw ids jointly" in text
    assert claims_markdown(table) == text


def test_fluctuation_rows_join_the_table():
    coords = {"base_width": [64], "activation": "relu", "schedule": "constant", "depth": 5}
    boot = 0.23 * np.linspace(0.95, 1.05, 2001)  # pooled CI [0.955, 1.045] x predicted
    data = {"v_diag": ("base_width", [0.23]), "v_diag_pred": ("base_width", [0.23]),
            "v_dsum_pred": ("base_width", [0.23]), "beta": ("base_width", [4 / 64]),
            "v_diag_boot": (("base_width", "resample"), boot[None]),
            "v_diag_jack": (("base_width", "draw"), np.full((1, 40), 0.23))}  # fmt: skip
    summary = xr.Dataset(data, coords=coords, attrs={"confidence": 0.95})
    row = _only(_table(fluctuations=summary, fluctuation_margin=0.02), "V_diag = prod_k")
    assert len(_table(fluctuations=summary).query("claim.str.contains('V_dsum')")) == 1
    # beyond the forms' ranges no row, and the table's note says why
    far = _table(fluctuations=summary, dsum_beta_max=0.05, product_beta_max=0.05)
    assert far.empty and "No fluctuation-law row" in far.attrs["notes"][0]
    assert (row.verdict, row.margin) == ("inconclusive", 0.02)  # CI [0.955, 1.045] vs band [0.98, 1.02]
    assert _only(_table(fluctuations=summary, fluctuation_margin=0.05), "V_diag = prod_k").verdict == "holds"
    assert row.role == "claim"
    # at depth 2 the law is an identity (V_diag = w(1/2)/m): the row checks the estimator, a calibration
    shallow = summary.assign_coords(depth=2)
    assert _only(_table(fluctuations=shallow, fluctuation_margin=0.05), "V_diag = prod_k").role == "calibration"


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


@pytest.fixture(scope="module")
def both_spectra(relu_x) -> xr.Dataset:
    depths = [2, 3, 5, 10, 20, 50, 100, 1000, 5000]
    parts = [limit_spectrum(relu_x, Activation.named(a), depths) for a in ("relu", "abs")]
    return xr.concat(parts, dim="activation", data_vars="all", coords="different", compat="equals", join="outer")


def test_the_spectrum_papers_claim_holds_deep_and_its_swapped_control_fails(both_spectra):
    rows = delta_rows(both_spectra, min_depth=100)
    below, control, rises, rises_control = (pd.Series(r) for r in rows)
    assert (below.role, below.verdict) == ("claim", "holds") and below.measured < 1
    assert (control.role, control.verdict) == ("control", "fails") and control.measured > 1
    assert control.measured == pytest.approx(1 / float(
        ((both_spectra.cond - both_spectra.pred_cond).sel(activation="abs")
         / (both_spectra.cond - both_spectra.pred_cond).sel(activation="relu")).sel(depth=100)))  # fmt: skip
    # the deeper half of l = 100..5000: l >= sqrt(100 x 5000) = 707, i.e. 1000 and 5000
    assert (rises.role, rises.verdict) == ("claim", "holds") and "at l=1000 to" in rises.claim
    assert "abs (Delta=1), relu (Delta=0.5)" in rises.claim
    assert (rises_control.role, rises_control.verdict) == ("control", "fails")
    # where the theory does not speak yet (l <= 100: the ratio still falls, 0.82 -> 0.77), the same rule fails
    shallow = [pd.Series(r) for r in delta_rows(both_spectra.sel(depth=slice(None, 100)), min_depth=3)]
    assert shallow[2].verdict == "fails" and "at l=20 to" in shallow[2].claim
    assert delta_rows(both_spectra.sel(activation=["relu"]), min_depth=100) == []
    table = _table(spec=both_spectra)
    assert table.claim.str.contains("smaller for abs than for relu").sum() == 1


def test_the_spectrum_papers_claim_pairs_activations_adjacent_in_delta(relu_x):
    """Three activations (Delta 1, 0.5, 0.1): one set of rows per adjacent pair, larger Delta first; a
    linear activation (Delta = 0, no deep limit) takes no part."""
    depths = [100, 1000, 5000]
    acts = {"abs": Activation.named("abs"), "relu": Activation.named("relu"),
            "leaky_relu(0.5)": Activation.named("leaky_relu", 0.5)}  # fmt: skip
    parts = [limit_spectrum(relu_x, act, depths).assign_coords(activation=name) for name, act in acts.items()]
    spectra = xr.concat(parts, dim="activation", data_vars="all", coords="different", compat="equals", join="outer")
    rows = pd.DataFrame(delta_rows(spectra, min_depth=100))
    assert len(rows) == 8 and rows.role.tolist() == ["claim", "control"] * 4
    assert rows.claim.str.contains("smaller for relu than for leaky_relu\\(0.5\\)").sum() == 1
    assert set(rows[rows.role == "claim"].verdict) == {"holds"} and set(rows[rows.role == "control"].verdict) == {
        "fails"
    }


def test_slope_rows_are_posed_only_where_the_law_predicts():
    """SCIENCE §6 ranges: at depth 32 with constant widths m = 64..256 (beta up to 0.48, V_diag ~ 4.5 for
    relu) neither form of the law is a prediction, so no slope row; quadratic widths keep theirs."""
    from ntk_eoc.analysis.claims.concentration_rows import ConcentrationClaimSettings, slope_form

    s = ConcentrationClaimSettings(N_BOOT, 1, 0.95, 32, 0.1, 0.25, 0.25, 0.15, 32)
    relu, abs_ = Activation.named("relu"), Activation.named("abs")
    assert slope_form(relu, "constant", 32, [64, 128, 256], s) is None
    assert slope_form(relu, "quadratic", 32, [64, 128, 256], s) == "product"
    assert slope_form(relu, "constant", 8, [32, 64, 128, 256], s) == "product"
    assert slope_form(abs_, "constant", 24, [64, 128, 256], s) == "dsum"  # beta 0.36, V_dsum ~ 0.6

    def mean(base_width, schedule):
        return base_width**-0.5 + 0 * (schedule == "")

    dev = _deviations({"schedule": ["quadratic", "constant"], "base_width": [64, 128, 256]}, mean,
                      activation="relu", depth=32)  # fmt: skip
    slopes = _table(dev)
    slopes = slopes[slopes.claim.str.startswith("slope of log mean")]
    assert len(slopes) == 1 and "schedule=quadratic" in slopes.claim.iloc[0]
