"""The min_eigen stage: eigenvalues per block against numpy on the same draws, the rank-bound shortcut,
the summary table, the claims verdicts and the figure, on small draws and synthetic stores."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure
from scipy import stats

from ntk_eoc.analysis import plots
from ntk_eoc.analysis.min_eigen import (
    CLAIM_COLUMNS,
    TABLE_COLUMNS,
    claims_markdown,
    claims_table,
    effective_params,
    mean_ci,
    summary_table,
)
from ntk_eoc.math import eigen, samplers
from ntk_eoc.math.activations import Elementwise, activation_from_config
from ntk_eoc.math.architecture import Architecture
from ntk_eoc.math.eigen import DENSE_MAX_N, block_names, block_params, block_spectra, largest_eigenvalue
from ntk_eoc.pipeline import resources
from ntk_eoc.pipeline.runs import ConfigError, RunConfig, checked
from ntk_eoc.pipeline.settings import MinEigenSettings
from ntk_eoc.pipeline.stages.min_eigen import min_eigen_draws

# Eigenvalues of the same float64 matrices by two LAPACK routes (evr subset vs numpy's evd): rounding
# of ~ eps N lambda_max, N <= 16, relative to lambda_max ~ 1.
EIG_ATOL = 1e-12


def _x(n: int, d: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


def test_block_names_and_params():
    arch = Architecture((3, 5, 5, 1), Elementwise("sigmoid"), init="standard")
    assert block_names(3) == ["full", "layer_1", "layer_2", "layer_3"]
    assert block_params(arch) == [15 + 25 + 5, 15, 25, 5]


@pytest.mark.parametrize(("activation", "init"), [("sigmoid", "standard"), ("relu", "eoc")])
def test_stored_eigenvalues_match_numpy_on_the_same_draws(activation, init):
    act = activation_from_config({"name": activation})
    arch = Architecture((4, 6, 6, 1), act, init=init)
    x = _x(10, 4)
    ds = min_eigen_draws(x, arch, [0, 1, 2], 3, "explicit", None, batch=2)
    layers = samplers.sample_kernels(
        x, act, arch.widths, [0, 1, 2], 3, "explicit", "float64", init=init, per_layer=True
    )
    assert ds.lambda_min.dims == ("draw", "block") and list(ds.block.values) == block_names(3)
    np.testing.assert_array_equal(ds.n_params.values, block_params(arch))
    # N = 10: full (P = 66), layer_1 (24), layer_2 (36) solved; layer_3 (6 < 10) by the rank bound.
    np.testing.assert_array_equal(ds.rank_zero.values, [False, False, False, True])
    for s in range(3):
        matrices = [layers[s].sum(axis=0), *layers[s]]
        for b, matrix in enumerate(matrices):
            eig = np.linalg.eigvalsh(matrix)
            assert ds.lambda_max.values[s, b] == pytest.approx(eig[-1], abs=EIG_ATOL)
            expected_min = 0.0 if ds.rank_zero.values[b] else eig[0]
            assert ds.lambda_min.values[s, b] == pytest.approx(expected_min, abs=EIG_ATOL)
    assert ds.lambda_min.values[:, 3].tolist() == [0.0, 0.0, 0.0]
    assert ds.attrs["eigen_seconds"] >= 0 and ds.attrs["sampling_seconds"] >= 0


def test_rank_bound_skips_the_solver(monkeypatch):
    calls = []

    def counted(matrix, **_):
        calls.append(matrix.shape)
        eig = np.linalg.eigvalsh(matrix)
        return float(eig[0]), float(eig[-1])

    monkeypatch.setattr(eigen, "extreme_eigenvalues", counted)
    rng = np.random.default_rng(1)
    phi = rng.standard_normal((2, 8, 3))  # two layer blocks of rank 3, N = 8
    layers = phi @ np.swapaxes(phi, 1, 2)
    low, high, seconds = block_spectra(layers, params=[6, 3, 3])
    assert calls == [] and low.tolist() == [0.0, 0.0, 0.0] and seconds >= 0
    for b, matrix in enumerate([layers.sum(axis=0), *layers]):
        assert high[b] == pytest.approx(np.linalg.eigvalsh(matrix)[-1], rel=1e-12)
    low, _, _ = block_spectra(layers, params=[8, 3, 3])  # N = P for the full block: solved
    assert len(calls) == 1 and low[0] == pytest.approx(np.linalg.eigvalsh(layers.sum(axis=0))[0], abs=1e-12)


def test_largest_eigenvalue_lanczos_matches_dense():
    rng = np.random.default_rng(2)
    phi = rng.standard_normal((DENSE_MAX_N + 44, 40))
    k = phi @ phi.T
    assert largest_eigenvalue(k) == pytest.approx(np.linalg.eigvalsh(k)[-1], rel=1e-10)


def test_mem_mb_grows_with_n():
    def run(n):
        return RunConfig.from_dict(
            {
                "activation": {"name": "sigmoid"},
                "schedule": {"name": "constant"},
                "dataset": {"name": "gaussian", "n_points": n, "input_dim": 30, "seed": 0, "normalize": False},
                "sampler": {"method": "auto", "dtype": "float64", "draws_per_job": 4, "seed": 0},
                "depth": 3,
                "output_dim": 1,
                "base_widths": [30],
                "draws": 4,
                "init": "standard",
                "study": "min_eigen",
            }
        )

    small, large = resources.min_eigen_mem_mb(run(100), 30), resources.min_eigen_mem_mb(run(3000), 30)
    assert 1000 < small < large
    assert large > 1000 + 4 * 3000**2 * 8 / 2**20  # the solver's N x N matrices at least


def _store(run, n, d, draws, values, init="standard", activation="sigmoid"):
    """A synthetic min_eigen store: lambda_min = values (draw, block), lambda_max = 1."""
    widths = [d, d, d, 1]
    arch = Architecture(tuple(widths), Elementwise("sigmoid"), init="standard")
    params = block_params(arch)
    ds = xr.Dataset(
        {
            "lambda_min": (("draw", "block"), np.asarray(values, dtype=float)),
            "lambda_max": (("draw", "block"), np.ones((len(draws), 4))),
            "n_params": ("block", np.asarray(params)),
            "rank_zero": ("block", np.array([n > p for p in params])),
        },
        coords={"draw": list(draws), "block": block_names(3)},
    )
    ds.attrs.update(
        run=run,
        base_width=d,
        layer_widths=widths,
        n_points=n,
        input_dim=d,
        init=init,
        activation={"name": activation},
    )
    return ds


def test_summary_table_columns_and_values():
    # d = 4: P = 36, layers 16, 16, 4; n = 10: full, layer_1, layer_2 solved, layer_3 rank-zero.
    first = _store("a", 10, 4, [0, 1], [[1.0, 0.5, 0.2, 0.0], [3.0, 0.7, 0.4, 0.0]])
    second = _store("a", 10, 4, [2], [[2.0, 0.6, 0.3, 0.0]])
    table = summary_table([second, first], confidence=0.9)
    assert tuple(table.columns) == TABLE_COLUMNS and len(table) == 4
    full = table[table.block == "full"].iloc[0]
    assert full.draws == 3 and full.lambda_min_mean == pytest.approx(2.0)
    assert (full.lambda_min_min, full.lambda_min_max) == (1.0, 3.0)
    half = stats.t.ppf(0.95, 2) * 1.0 / math.sqrt(3)
    assert full.lambda_min_ci_low == pytest.approx(2.0 - half) and full.lambda_min_ci_high == pytest.approx(2.0 + half)
    assert full.N_lambda_min_mean == pytest.approx(20.0) and full.N_over_P == pytest.approx(10 / 36)
    assert (full.P_block, full.P_total, full.N, full.d, full.widths) == (36, 36, 10, 4, "4-4-4-1")
    assert (full.activation, full.init, full.depth) == ("sigmoid", "standard", 3)
    assert full.rounding_level == pytest.approx(np.finfo(float).eps * 10)
    last = table[table.block == "layer_3"].iloc[0]
    assert bool(last.rank_zero) and last.lambda_min_mean == 0.0 and last.N_over_P == pytest.approx(10 / 4)
    with pytest.raises(ValueError, match="duplicate draws"):
        summary_table([first, first])


def test_mean_ci_needs_two_values():
    assert mean_ci(np.array([2.0]), 0.95)[0] == 2.0 and math.isnan(mean_ci(np.array([2.0]), 0.95)[1])


def _table(rows):
    base = {c: 0.0 for c in TABLE_COLUMNS}
    base.update(activation="sigmoid", init="standard", N=10, block="full", rounding_level=1e-15, P_block=20, P_eff=20)
    return pd.DataFrame([{**base, **row} for row in rows], columns=list(TABLE_COLUMNS))


@pytest.mark.parametrize(
    ("lows", "highs", "verdict"),
    [
        ((0.1, 0.2), (0.3, 0.4), "holds"),
        ((-0.1, 0.2), (0.3, 0.4), "inconclusive"),
        ((-0.1, 0.2), (1e-16, 0.4), "fails"),
        ((math.nan, 0.2), (math.nan, 0.4), "inconclusive"),
    ],
)
def test_positive_claim_verdicts(lows, highs, verdict):
    rows = [
        {"lambda_min_ci_low": lo, "lambda_min_ci_high": hi, "lambda_min_mean": 0.2, "rank_zero": False}
        for lo, hi in zip(lows, highs, strict=True)
    ]
    claims = claims_table(_table(rows))
    assert tuple(claims.columns) == CLAIM_COLUMNS and len(claims) == 1
    assert claims.verdict.iloc[0] == verdict
    np.testing.assert_equal(claims.ci_low.iloc[0], np.min(lows))  # NaN (no CI) propagates
    assert "N <= P" in claims.claim.iloc[0]


def test_zero_claim_and_markdown():
    zero = {"rank_zero": True, "lambda_min_min": 0.0, "lambda_min_max": 0.0, "P_block": 4, "block": "layer_3"}
    # a rank-bound row is never solved: a nonzero stored value means a broken store, refused
    with pytest.raises(ValueError, match=r"store \|lambda_min\| = 0\.001"):
        claims_table(_table([zero, {**zero, "lambda_min_max": 1e-3}]))
    claims = claims_table(_table([zero]))
    assert claims.verdict.tolist() == ["by theorem"] and "rank bound" in claims.claim.iloc[0]
    assert claims.kind.tolist() == ["theorem"] and np.isnan(claims.measured.iloc[0])
    text = claims_markdown(claims)
    assert "Verdict rules" in text and "N times these" in text
    assert "True by theorem" in text


def test_theorem_rows_follow_the_measured_rows():
    zero = {"rank_zero": True, "lambda_min_min": 0.0, "lambda_min_max": 0.0, "P_block": 4, "N": 10}
    solved = {"lambda_min_ci_low": 0.1, "lambda_min_ci_high": 0.3, "lambda_min_mean": 0.2, "rank_zero": False}
    rows = [{**zero, "block": "full"}, {**solved, "block": "layer_1"}, {**zero, "block": "layer_2"}]
    claims = claims_table(_table(rows))
    assert claims.kind.tolist() == ["measured", "theorem", "theorem"]
    assert claims.verdict.tolist() == ["holds", "by theorem", "by theorem"]
    text = claims_markdown(claims)
    measured_part, theorem_part = text.split("True by theorem")
    assert "layer_1" in measured_part and "layer_1" not in theorem_part
    assert "full, sigmoid" in theorem_part and "layer_2, sigmoid" in theorem_part


def test_summary_config_checks_keys():
    def summary_config(section):
        return checked("min_eigen", lambda: MinEigenSettings.from_config(section)).config()

    assert summary_config(None) == {"confidence": 0.95, "dpi": 150}
    with pytest.raises(ConfigError, match=r"min_eigen\.bogus"):
        summary_config({"bogus": 1})
    with pytest.raises(ConfigError, match=r"min_eigen\.confidence"):
        summary_config({"confidence": 1.5})


def test_plot_min_eigen_has_one_panel_per_block(tmp_path):
    stores = [
        _store("a", 10, 4, [0, 1], [[1.0, 0.5, 0.2, 0.0], [3.0, 0.7, 0.4, 0.0]]),
        _store("b", 40, 4, [0, 1], [[0.0, 0.0, 0.0, 0.0]] * 2),
        _store("c", 10, 4, [0, 1], [[0.1, 0.05, 0.02, 0.0]] * 2, init="eoc", activation="relu"),
    ]
    fig = plots.plot_min_eigen(summary_table(stores))
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == ["full NTK", "block layer_1", "block layer_2", "block layer_3"]
    png, pdf = plots.save_figure(fig, tmp_path / "min_eigen")
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0


def test_effective_params_removes_one_direction_per_hidden_neuron():
    widths = [4, 5, 6, 1]
    assert effective_params("full", 56, widths, {"name": "relu"}) == 56 - 11
    assert effective_params("full", 56, widths, {"name": "sigmoid"}) == 56
    assert effective_params("layer_2", 30, widths, {"name": "abs"}) == 30


def test_relu_full_ntk_is_singular_between_p_eff_and_p():
    """d = 3: P = 21 and P_eff = 21 - 6 = 15 < N = 18 <= P: lambda_min(K) = 0 up to rounding."""
    act = activation_from_config({"name": "relu"})
    arch = Architecture((3, 3, 3, 1), act, init="eoc")
    ds = min_eigen_draws(_x(18, 3, seed=11), arch, [0, 1], 0, "explicit", None, batch=1)
    assert not bool(ds.rank_zero.sel(block="full"))
    lam = ds.lambda_min.sel(block="full").values
    assert np.all(np.abs(lam) <= np.finfo(float).eps * 18 * ds.lambda_max.sel(block="full").values * 10)
    store = _store("r", 18, 3, [0, 1], ds.lambda_min.values, init="eoc", activation="relu")
    store["lambda_max"] = ds.lambda_max
    table = summary_table([store])
    full = table[table.block == "full"].iloc[0]
    assert (full.P_block, full.P_eff) == (21, 15)
    claims = claims_table(table)
    row = claims[claims.claim.str.contains("neuron rescaling")]
    assert len(row) == 1 and row.verdict.iloc[0] == "holds"


def test_plot_min_eigen_draws_one_line_per_depth_when_depths_are_swept():
    rows = [
        {"block": "full", "activation": "relu", "init": "eoc", "N": 10, "depth": depth, "N_over_P": ratio,
         "lambda_min_mean": 1e-3, "lambda_min_min": 5e-4, "lambda_min_max": 2e-3, "rank_zero": False,
         "rounding_level": 1e-15}
        for depth in (3, 4)
        for ratio in (0.1, 0.5)
    ]  # fmt: skip
    fig = plots.plot_min_eigen(pd.DataFrame(rows))
    lines = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    assert len(lines) == 2
    assert {line.get_linestyle() for line in lines} == {"-", "--"}
    assert any(t.get_text() == "depth l = 4" for t in fig.legends[0].get_texts())


def _scaling_runs(exponent: float, rel_sd: float, draws: int = 8) -> pd.DataFrame:
    """relu full-NTK runs at N = 100, 200, 400 with d ~ sqrt(N) (N/P = 0.4) and at a fixed d (N/P = N/1100):
    mean N lambda_min = N^exponent at fixed N/P, N^-1.5 at fixed d, each with relative sd ``rel_sd``."""
    rows = []
    for n in (100, 200, 400):
        fixed_ratio = {"N": n, "widths": f"w{n}", "N_over_P": 0.4, "N_lambda_min_mean": n**exponent}
        fixed_width = {"N": n, "widths": "w", "N_over_P": n / 1100, "N_lambda_min_mean": n**-1.5}
        for row in (fixed_ratio, fixed_width):
            mean = row["N_lambda_min_mean"] / n
            row.update(lambda_min_mean=mean, lambda_min_sd=rel_sd * mean, draws=draws)
            rows.append({**row, "activation": "relu", "init": "eoc", "depth": 3, "P_eff": 10**4, "rank_zero": False})
    return _table(rows)


@pytest.mark.parametrize(
    ("exponent", "rel_sd", "verdict"),
    [(0.0, 0.2, "holds"), (0.3, 0.3, "holds"), (-1.0, 0.3, "fails"), (0.0, 3.0, "inconclusive")],
)  # margin 0.25: the slope's CI must lie above -0.25 (holds) or below it (fails)
def test_bounded_below_at_fixed_ratio_with_its_fixed_width_control(exponent, rel_sd, verdict):
    from ntk_eoc.analysis.min_eigen import BOUNDED_MARGIN, bounded_rows

    rows = pd.DataFrame(bounded_rows(_scaling_runs(exponent, rel_sd)))
    claim, control = rows[rows.role == "claim"].iloc[0], rows[rows.role == "control"].iloc[0]
    assert (len(rows), claim.verdict, claim.margin) == (2, verdict, BOUNDED_MARGIN)
    assert claim.measured == pytest.approx(exponent, abs=1e-12) and "fixed N/P" in claim.claim
    # the CI: t(7) x sqrt(sum w^2 se^2), se = rel_sd / sqrt(8), w = (x - mean x) / Sxx over x = ln N
    x = np.log([100, 200, 400])
    w = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
    half = 2.3646 * np.sqrt((w**2).sum()) * rel_sd / np.sqrt(8)
    assert claim.ci_high - claim.measured == pytest.approx(half, rel=1e-4)
    assert control.measured == pytest.approx(-1.5, abs=1e-12) and "fixed widths w" in control.claim
    assert control.verdict == ("fails" if rel_sd < 1 else "inconclusive")


def test_bounded_rows_need_over_parameterization_and_two_sizes():
    from ntk_eoc.analysis.min_eigen import bounded_rows

    runs = _scaling_runs(0.0, 0.2)
    near_threshold = runs.assign(N_over_P=np.where(runs.widths == "w", runs.N_over_P, 0.9))
    assert [r["role"] for r in bounded_rows(near_threshold)] == ["control"]  # N/P = 0.9 > 1/2: no claim
    assert bounded_rows(runs[runs.N == 100]) == []
    # a mean at the rounding level has no log: inconclusive, no CI
    dead = runs.assign(rounding_level=np.where(runs.N == 400, 1.0, 0.0))
    assert {r["verdict"] for r in bounded_rows(dead)} == {"inconclusive"}
