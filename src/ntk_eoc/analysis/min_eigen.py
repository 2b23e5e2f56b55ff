"""Statistics and claims of the min_eigen study: lambda_min of the NTK and of its layer blocks against
the number of parameters.   [SCIENCE §4, Bombari, Amani, Mondelli 2022]

Stored eigenvalues are those of K = [(1/N) K_theta(x_i, x_j)]; the columns ``N_lambda_min_*`` give
N x lambda_min, the convention of Bombari, Amani, Mondelli (NeurIPS 2022), whose NTK has no 1/N.

:func:`summary_table` reads the per-draw stores of the min_eigen stage (one row per run, base width and
block); :func:`claims_table` states the claims with their verdict rules (:data:`VERDICT_RULES`). Rows true
by a theorem (lambda_min = 0 for N > P_block by the rank bound, written by the stage without a solve) are
kind "theorem" with verdict "by theorem" and follow the measured rows: nothing is measured there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..math.activations import Activation, activation_from_config
from .claims.table import COLUMNS, markdown
from .claims.verdicts import Kind, Role, Verdict, claim_row

__all__ = [
    "BOUNDED_MARGIN",
    "CLAIM_COLUMNS",
    "TABLE_COLUMNS",
    "VERDICT_RULES",
    "bounded_rows",
    "claims_markdown",
    "claims_table",
    "effective_params",
    "mean_ci",
    "summary_table",
]

TABLE_COLUMNS = (
    "run", "activation", "init", "n_points", "N", "d", "widths", "depth", "base_width", "block",
    "P_block", "P_total", "P_eff", "N_over_P", "rank_zero", "draws",
    "lambda_min_mean", "lambda_min_min", "lambda_min_max", "lambda_min_sd", "lambda_min_ci_low", "lambda_min_ci_high",
    "lambda_max_mean", "rounding_level",
    "N_lambda_min_mean", "N_lambda_min_ci_low", "N_lambda_min_ci_high",
)  # fmt: skip
CLAIM_COLUMNS = COLUMNS
# The "bounded" rows: a decay of N lambda_min slower than N^-margin is "not decaying" at these sizes; runs
# whose N/P agree within the factor RATIO_TOLERANCE are at "fixed N/P" (SCIENCE §8.9).
# The claims need over-parameterization (P = Omega(N)): N/P <= RATIO_MAX; near N/P = 1 lambda_min falls to 0
# (to the rounding level at N = P: 1e-13..1e-7 in the demo), so positivity too is posed for N <= RATIO_MAX P_eff.
BOUNDED_MARGIN = 0.25
RATIO_TOLERANCE = 1.1
RATIO_MAX = 0.5
# Rounding level of a computed lambda_min: eps N lambda_max (backward stability of the reduction).
EPS = float(np.finfo(np.float64).eps)
VERDICT_RULES = {
    "positive": (
        "lambda_min of the block > 0 for every run with N <= P_eff / 2 (nearer the rank threshold lambda_min "
        "falls towards the rounding level: no verdict there): measured = smallest mean lambda_min, "
        "ci_low/ci_high = smallest lower / upper t-CI bound of the mean over those runs; holds if every lower "
        "bound > the rounding level eps N lambda_max of its run, fails if some upper bound <= it, inconclusive "
        "otherwise (also with one draw: no CI)"
    ),
    "symmetry": (
        "lambda_min of the full NTK of a bias-free (a,b)-ReLU network = 0 for P_eff < N <= P: each hidden "
        "neuron's rescaling (incoming row x c, outgoing column / c) leaves the network unchanged, so the "
        "Jacobian has one null direction per hidden neuron and rank K <= P_eff = P - sum_{k<l} m_k; measured "
        "= largest |lambda_min| over draws and runs; holds if every |lambda_min| <= the rounding level "
        "eps N lambda_max of its run, fails otherwise"
    ),
    "bounded": (
        "bounded away from zero: N lambda_min does not decay as N grows; measured = OLS slope of log mean "
        "N lambda_min against log N over the runs of the row, CI = slope +- t(df) se, se from each run's "
        "delta-method standard error sd / (mean sqrt(draws)) of log mean (runs independent), df = fewest draws "
        "- 1; holds if ci_low > -margin, fails if ci_high < -margin, inconclusive otherwise (also when a mean "
        "is not above its rounding level)"
    ),
    "zero": (
        "theorem, not a measurement: lambda_min of the block = 0 for every run with N > P_block because "
        "rank K <= P_block < N; the stage writes 0 without a solve (a nonzero stored value is refused)"
    ),
}


def mean_ci(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean; NaN bounds with fewer than 2 values."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def effective_params(block: str, n_params: int, layer_widths: Sequence[int], activation: Mapping[str, Any]) -> int:
    """P_eff, an upper bound on rank K: P_block, except for the full NTK of a dense (a,b)-ReLU network.

    phi(c s) = c phi(s) for c > 0, so scaling the incoming weights of a hidden neuron by c and its outgoing
    weights by 1/c leaves the network unchanged: one Jacobian null direction per hidden neuron (disjoint
    supports, so independent), rank K <= P - (m_1 + ... + m_{l-1}). Only the full NTK involves both layers.
    """
    if block != "full" or not isinstance(activation_from_config(activation), Activation):
        return int(n_params)
    return int(n_params) - int(sum(layer_widths[1:-1]))


def _runs(stores: Sequence[xr.Dataset]) -> dict[tuple[str, int], xr.Dataset]:
    """(run, base width) -> its stores concatenated along draw (sorted, duplicates refused)."""
    parts: dict[tuple[str, int], list[xr.Dataset]] = {}
    for ds in stores:
        parts.setdefault((ds.attrs["run"], int(ds.attrs["base_width"])), []).append(ds)
    out = {}
    for key, group in parts.items():
        merged = xr.concat(group, dim="draw", data_vars="minimal", coords="minimal", compat="equals")
        merged = merged.sortby("draw")
        if np.unique(merged.draw.values).size != merged.sizes["draw"]:
            raise ValueError(f"min_eigen: run {key[0]} at width {key[1]} has duplicate draws")
        merged.attrs = group[0].attrs
        out[key] = merged
    return out


def summary_table(stores: Sequence[xr.Dataset], confidence: float = 0.95) -> pd.DataFrame:
    """One row per (run, base width, block): the tidy table of :data:`TABLE_COLUMNS`."""
    rows = []
    for (run, width), ds in sorted(_runs(stores).items()):
        activation = dict(ds.attrs["activation"])
        widths = [int(w) for w in ds.attrs["layer_widths"]]
        size = int(ds.attrs["n_points"]) * widths[-1]
        total = int(ds.n_params.sel(block="full"))
        dense = ds.attrs.get("ranks") is None or all(r is None for r in ds.attrs["ranks"])
        for block in ds.block.values.tolist():
            row = ds.sel(block=block)
            low = row.lambda_min.values
            mean, ci_low, ci_high = mean_ci(low, confidence)
            p_block = int(row.n_params)
            p_eff = effective_params(block, p_block, widths, activation) if dense else p_block
            lmax = float(row.lambda_max.mean())
            rows.append(
                {
                    "run": run,
                    "activation": activation["name"],
                    "init": ds.attrs["init"],
                    "n_points": int(ds.attrs["n_points"]),
                    "N": size,
                    "d": int(ds.attrs["input_dim"]),
                    "widths": "-".join(map(str, widths)),
                    "depth": len(widths) - 1,
                    "base_width": width,
                    "block": block,
                    "P_block": p_block,
                    "P_total": total,
                    "P_eff": p_eff,
                    "N_over_P": size / p_block,
                    "rank_zero": bool(row.rank_zero),
                    "draws": int(low.size),
                    "lambda_min_mean": mean,
                    "lambda_min_min": float(low.min()),
                    "lambda_min_max": float(low.max()),
                    "lambda_min_sd": float(low.std(ddof=1)) if low.size > 1 else math.nan,
                    "lambda_min_ci_low": ci_low,
                    "lambda_min_ci_high": ci_high,
                    "lambda_max_mean": lmax,
                    "rounding_level": EPS * size * float(row.lambda_max.max()),
                    "N_lambda_min_mean": size * mean,
                    "N_lambda_min_ci_low": size * ci_low,
                    "N_lambda_min_ci_high": size * ci_high,
                }
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _positive_row(above: pd.DataFrame, where: str) -> dict:
    p_range = f"P_block {above.P_block.min()}..{above.P_block.max()}"
    lows, highs = above.lambda_min_ci_low.to_numpy(), above.lambda_min_ci_high.to_numpy()
    tol = above.rounding_level.to_numpy()
    if np.isnan(lows).any():
        verdict = Verdict.INCONCLUSIVE
    elif (lows > tol).all():
        verdict = Verdict.HOLDS
    elif (highs <= tol).any():
        verdict = Verdict.FAILS
    else:
        verdict = Verdict.INCONCLUSIVE
    claim = f"lambda_min > 0 for N <= P_eff / 2 ({where}; {len(above)} runs, {p_range})"
    ci = (float(np.min(lows)), float(np.min(highs)))
    return claim_row(claim, Kind.MEASURED, 0.0, above.lambda_min_mean.min(), ci, VERDICT_RULES["positive"], verdict)


def _symmetry_row(between: pd.DataFrame, where: str) -> dict:
    p_range = f"P_eff {between.P_eff.min()}..{between.P_eff.max()}"
    extreme = np.abs(between[["lambda_min_min", "lambda_min_max"]].to_numpy()).max(axis=1)
    ok = bool((extreme <= between.rounding_level.to_numpy()).all())
    claim = f"lambda_min = 0 for P_eff < N <= P, neuron rescaling ({where}; {len(between)} runs, {p_range})"
    verdict = Verdict.HOLDS if ok else Verdict.FAILS
    return claim_row(
        claim, Kind.MEASURED, 0.0, float(extreme.max()), (math.nan, math.nan), VERDICT_RULES["symmetry"], verdict
    )


def _theorem_row(below: pd.DataFrame, where: str) -> dict:
    stored = float(np.max(np.abs(below[["lambda_min_min", "lambda_min_max"]].to_numpy())))
    if stored != 0.0:
        raise ValueError(
            f"min_eigen claims: rank-bound runs ({where}) store |lambda_min| = {stored:g}, not the 0 the stage writes"
        )
    p_range = f"P_block {below.P_block.min()}..{below.P_block.max()}"
    claim = f"lambda_min = 0 for N > P, rank bound ({where}; {len(below)} runs, {p_range})"
    nan = math.nan
    return claim_row(claim, Kind.THEOREM, 0.0, nan, (nan, nan), VERDICT_RULES["zero"], Verdict.BY_THEOREM)


def _log_slope(runs: pd.DataFrame, confidence: float) -> tuple[float, float, float]:
    """(slope, low, high) of log mean N lambda_min against log N (the "bounded" rule); NaN bounds when a mean
    is not above its rounding level or a run has fewer than 2 draws."""
    from scipy import stats

    x = np.log(runs.N.to_numpy(dtype=float))
    mean = runs.N_lambda_min_mean.to_numpy(dtype=float)
    level = runs.N.to_numpy(dtype=float) * runs.rounding_level.to_numpy(dtype=float)
    w = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
    if (mean <= level).any() or (runs.draws < 2).any():
        return float(w @ np.log(np.maximum(mean, level))), math.nan, math.nan
    y = np.log(mean)
    se_log = runs.N.to_numpy(dtype=float) * runs.lambda_min_sd.to_numpy(dtype=float) / (mean * np.sqrt(runs.draws))
    slope, se = float(w @ y), float(np.sqrt((w**2 * se_log**2).sum()))
    half = float(stats.t.ppf(0.5 + confidence / 2, int(runs.draws.min()) - 1)) * se
    return slope, slope - half, slope + half


def _bounded_row(runs: pd.DataFrame, what: str, role: Role, confidence: float) -> dict:
    slope, low, high = _log_slope(runs, confidence)
    if math.isnan(low):
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.HOLDS if low > -BOUNDED_MARGIN else Verdict.FAILS if high < -BOUNDED_MARGIN else (
            Verdict.INCONCLUSIVE
        )  # fmt: skip
    ratios = f"N/P {runs.N_over_P.min():.3g}..{runs.N_over_P.max():.3g}"
    claim = f"N lambda_min bounded below as N grows {what} (N={runs.N.min()}..{runs.N.max()}, {ratios})"
    rule = VERDICT_RULES["bounded"]
    return claim_row(claim, Kind.MEASURED, 0.0, slope, (low, high), rule, verdict, BOUNDED_MARGIN, role)


def bounded_rows(table: pd.DataFrame, confidence: float = 0.95) -> list[dict]:
    """SCIENCE §8.9: N lambda_min bounded below as N grows at fixed N/P, per (activation/init, depth, block),
    over the solved runs (N <= P_eff): each run at the smallest N with, at every larger N, the run of nearest
    N/P if within the factor :data:`RATIO_TOLERANCE`, all at N/P <= :data:`RATIO_MAX` (over-parameterized),
    >= 2 values of N: claims. The same rule at fixed widths (N/P growing with N towards the rank threshold,
    where lambda_min falls to 0) is the negative control."""
    rows: list[dict] = []
    solved = table[~table.rank_zero & (table.N <= table.P_eff)]
    for (act, init, depth, block), cell in solved.groupby(["activation", "init", "depth", "block"], sort=True):
        where = f"{block}, {act}/{init}, depth {depth}"
        smallest = cell[cell.N == cell.N.min()]
        for ratio in sorted(smallest.N_over_P):  # each run at the smallest N with its nearest N/P at every N
            if ratio > RATIO_MAX:
                continue
            group = [smallest[smallest.N_over_P == ratio].iloc[[0]]]
            for _, at in cell[cell.N > cell.N.min()].groupby("N", sort=True):
                near = at.iloc[[int(np.argmin(np.abs(np.log(at.N_over_P.to_numpy() / ratio))))]]
                if abs(math.log(float(near.N_over_P.iloc[0]) / ratio)) <= math.log(RATIO_TOLERANCE):
                    group.append(near)
            runs = pd.concat(group)
            if len(runs) >= 2 and runs.N_over_P.max() <= RATIO_MAX:
                rows.append(_bounded_row(runs, f"at fixed N/P ({where})", Role.CLAIM, confidence))
        for width, runs in cell.groupby("widths", sort=True):
            if runs.N.nunique() == len(runs) >= 2:
                what = f"at fixed widths {width} ({where})"
                rows.append(_bounded_row(runs.sort_values("N"), what, Role.CONTROL, confidence))
    return rows


def claims_table(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Rows per (activation/init, N, block) of :data:`VERDICT_RULES`, from :func:`summary_table` output, and
    the "bounded" rows with their controls (:func:`bounded_rows`, CIs at ``confidence``): the measured rows
    first, then the rows true by theorem."""
    measured, theorems = [], []
    order = {b: i for i, b in enumerate(sorted(table.block.unique(), key=lambda b: (b != "full", b)))}
    keys = sorted(
        table.groupby(["activation", "init", "N", "block"]).groups, key=lambda k: (k[0], k[1], order[k[3]], k[2])
    )
    for act, init, size, block in keys:
        cell = table[(table.activation == act) & (table.init == init) & (table.N == size) & (table.block == block)]
        where = f"{block}, {act}/{init}, N={size}"
        above = cell[~cell.rank_zero & (cell.N <= RATIO_MAX * cell.P_eff)]
        if len(above):
            measured.append(_positive_row(above, where))
        between = cell[~cell.rank_zero & (cell.N > cell.P_eff)]
        if len(between):
            measured.append(_symmetry_row(between, where))
        if cell.rank_zero.any():
            theorems.append(_theorem_row(cell[cell.rank_zero], where))
    measured += bounded_rows(table, confidence)
    return pd.DataFrame(measured + theorems, columns=list(CLAIM_COLUMNS))


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims as a Markdown table, followed by the verdict rules and the 1/N convention."""
    note = (
        "Eigenvalues are those of K = [(1/N) K_theta(x_i, x_j)]; the NTK without the 1/N factor "
        "(Bombari, Amani, Mondelli 2022) has N times these.\n"
    )
    return markdown(claims, note=note)
