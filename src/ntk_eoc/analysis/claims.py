"""The claims table: SCIENCE §4's predictions against the measured statistics, one row per claim.

Columns ``claim, predicted, measured, ci_low, ci_high, verdict``. Rows and verdict rules:

- slope (seed 000): fitted slope of log mean deviation vs log m (:func:`ntk_eoc.analysis.stats.fit_slopes`), one
  row per (activation, schedule) at the reference cell (needs >= 2 base widths); predicted -1/2
  (proved for m_k = k^2 m; the other schedules are contrasts). Verdict: ``consistent`` if the predicted
  value lies in [ci_low, ci_high], ``below prediction`` if ci_high < predicted, ``above prediction``
  if ci_low > predicted.
- output dimension (seed 000): slope of log mean deviation vs log m_l; the bound's factor predicts +1/2
  at large depth. Same verdict rule as the slope.
- ratios (seed 000): mean deviation of abs over ReLU, and of the quadratic over the constant schedule,
  at equal base width (the largest) and the deepest depth (:func:`ntk_eoc.analysis.stats.bootstrap_ratio`);
  predicted < 1, written as the threshold 1. Verdict: ``direction holds`` if ci_high < 1,
  ``direction fails`` if ci_low > 1, ``inconclusive`` otherwise.
- deep limit (seed 001): cond(K_inf), lambda_min n/l, lambda_max n/l and mean Theta_l/l off the diagonal at
  the largest depth vs :func:`ntk_eoc.analysis.spectrum.predicted_limits`. These are exact computations with no
  sampling error (ci_low, ci_high empty). Verdict: ``consistent`` if |measured / predicted - 1| <= rtol,
  ``approaching`` if not but the gap shrinks from the second-largest to the largest depth,
  ``inconsistent`` if the gap grows, ``inconclusive`` with one depth outside rtol.

The reference cell of a deviations dataset is its largest ``depth`` and smallest ``output_dim`` (when
those dims exist); every other dim except ``draw`` and ``base_width`` gets its own rows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..math.activations import Activation
from .stats import DEFAULT_N_BOOT, bootstrap_ratio, fit_loglog_slope, fit_slopes, theory_bound_factor

__all__ = ["COLUMNS", "LIMIT_RTOL", "VERDICT_RULES", "claims_markdown", "claims_table", "markdown", "write_claims"]

COLUMNS = ("claim", "predicted", "measured", "ci_low", "ci_high", "verdict")
# Deep-limit tolerance: 1% relative. The measured gaps close like log(l)/l, about 1.5% for cond at
# l = 1000 (ReLU, n = 8), so depths of 10^4 and more are needed for "consistent"; "approaching" covers less.
LIMIT_RTOL = 0.01
PREDICTED_SLOPE = -0.5
PREDICTED_OUTPUT_SLOPE = 0.5
RATIO_THRESHOLD = 1.0
VERDICT_RULES = {
    "slope": "consistent if predicted in [ci_low, ci_high]; below/above prediction if the CI lies below/above it",
    "ratio": "direction holds if ci_high < 1; direction fails if ci_low > 1; inconclusive otherwise",
    "limit": (
        "exact (no CI): consistent if |measured/predicted - 1| <= {rtol:g}; approaching if the gap shrinks "
        "between the two largest depths; inconsistent if it grows; inconclusive with one depth"
    ),
}
_LIMIT_ROWS = (
    ("cond", "pred_cond", "cond(K_inf) -> 1 + n/3"),
    ("lambda_min_scaled", "pred_lambda_min_scaled", "lambda_min(K_inf) n/l -> 3/4"),
    ("lambda_max_scaled", "pred_lambda_max_scaled", "lambda_max(K_inf) n/l -> (n+3)/4"),
    ("theta_offdiag_scaled_mean", "pred_theta_offdiag_scaled", "Theta_l/l off the diagonal -> 1/4"),
)


def _row(claim: str, predicted: float, measured: float, low: float, high: float, verdict: str) -> dict:
    return dict(zip(COLUMNS, (claim, float(predicted), float(measured), float(low), float(high), verdict), strict=True))


def slope_verdict(predicted: float, low: float, high: float) -> str:
    """``consistent`` if low <= predicted <= high, else ``below prediction`` / ``above prediction``."""
    if high < predicted:
        return "below prediction"
    return "above prediction" if low > predicted else "consistent"


def ratio_verdict(low: float, high: float) -> str:
    """``direction holds`` if high < 1, ``direction fails`` if low > 1, else ``inconclusive``."""
    if high < RATIO_THRESHOLD:
        return "direction holds"
    return "direction fails" if low > RATIO_THRESHOLD else "inconclusive"


def limit_verdict(predicted: float, values: np.ndarray, rtol: float) -> str:
    """Deep-limit verdict from the values at increasing depths (last = largest); see module docstring."""
    gaps = np.abs(np.asarray(values, dtype=np.float64) / predicted - 1.0)
    if gaps[-1] <= rtol:
        return "consistent"
    if gaps.size < 2:
        return "inconclusive"
    return "approaching" if gaps[-1] < gaps[-2] else "inconsistent"


def _cells(ds: xr.Dataset | xr.DataArray, dims) -> list[dict]:
    dims = [d for d in dims if d in ds.dims]
    return [dict(zip(dims, c, strict=True)) for c in itertools.product(*(ds[d].values.tolist() for d in dims))]


def _describe(cell: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell.items())


def reference_cell(dev: xr.Dataset) -> xr.Dataset:
    """Largest depth and smallest output_dim (where those dims exist)."""
    sel = {}
    if "depth" in dev.dims:
        sel["depth"] = int(dev.depth.max())
    if "output_dim" in dev.dims:
        sel["output_dim"] = int(dev.output_dim.min())
    return dev.sel(sel)


def _slope_rows(dev: xr.Dataset, var: str, n_boot: int, seed, confidence: float) -> list[dict]:
    if dev.sizes.get("base_width", 0) < 2:
        return []
    ref = reference_cell(dev)
    fits = fit_slopes(ref, var, n_boot=n_boot, seed=seed, confidence=confidence)
    rows = []
    for cell in _cells(fits, fits.slope.dims) or [{}]:
        f = fits.sel(cell)
        where = _describe({**cell, **{k: ref[k].item() for k in ("depth", "output_dim") if k in ref.coords}})
        claim = f"slope of log mean {var} vs log m ({where})"
        lo, hi = float(f.ci_low), float(f.ci_high)
        rows.append(_row(claim, PREDICTED_SLOPE, f.slope, lo, hi, slope_verdict(PREDICTED_SLOPE, lo, hi)))
    return rows


def _output_dim_rows(dev: xr.Dataset, var: str, n_boot: int, seed, confidence: float) -> list[dict]:
    if "output_dim" not in dev.dims or dev.sizes["output_dim"] < 2:
        return []
    m = int(dev.base_width.max())
    sub = dev[var].sel(base_width=m)
    sub = sub.sel(depth=int(sub.depth.max())) if "depth" in sub.dims else sub
    cells = _cells(sub, [d for d in sub.dims if d not in ("output_dim", "draw")]) or [{}]
    rows = []
    for cell, child in zip(cells, np.random.SeedSequence(seed).spawn(len(cells)), strict=True):
        one = sub.sel(cell).transpose("output_dim", "draw")
        fit = fit_loglog_slope(one.output_dim.values, one.values, n_boot=n_boot, seed=child, confidence=confidence)
        claim = f"slope of log mean {var} vs log m_l ({_describe({**cell, 'base_width': m})})"
        verdict = slope_verdict(PREDICTED_OUTPUT_SLOPE, fit.ci_low, fit.ci_high)
        rows.append(_row(claim, PREDICTED_OUTPUT_SLOPE, fit.slope, fit.ci_low, fit.ci_high, verdict))
    return rows


def _ratio_rows(dev, var, dim, numerator, denominator, n_boot, seed, confidence) -> list[dict]:
    if dim not in dev.dims or not {numerator, denominator} <= set(dev[dim].values.tolist()):
        return []
    ref = reference_cell(dev)[var]
    ref = ref.sel(base_width=int(ref.base_width.max()))
    cells = _cells(ref, [d for d in ref.dims if d not in (dim, "draw")]) or [{}]
    rows = []
    for cell, child in zip(cells, np.random.SeedSequence(seed).spawn(len(cells)), strict=True):
        one = ref.sel(cell)
        est = bootstrap_ratio(
            one.sel({dim: numerator}).values,
            one.sel({dim: denominator}).values,
            n_boot=n_boot,
            seed=child,
            confidence=confidence,
        )
        where = {**cell, **{k: ref[k].item() for k in ("base_width", "depth", "output_dim") if k in ref.coords}}
        claim = f"mean {var} ratio {numerator}/{denominator} < 1 ({_describe(where)}){_factor_note(dim, where)}"
        rows.append(
            _row(claim, RATIO_THRESHOLD, est.value, est.ci_low, est.ci_high, ratio_verdict(est.ci_low, est.ci_high))
        )
    return rows


def _factor_note(dim: str, where: dict) -> str:
    """For abs/relu: the ratio of the bound's factors, for reference."""
    if dim != "activation" or "depth" not in where:
        return ""
    out_dim = int(where.get("output_dim", 1))
    factors = [theory_bound_factor(Activation.named(a), int(where["depth"]), out_dim) for a in ("abs", "relu")]
    return f"; bound factor ratio {factors[0] / factors[1]:.3f}"


def _limit_rows(spec: xr.Dataset, rtol: float) -> list[dict]:
    spec = spec if "activation" in spec.dims else spec.expand_dims("activation")
    n = spec.attrs.get("n_points", "?")
    rows = []
    for k in range(spec.sizes["activation"]):
        one = spec.isel(activation=k).sortby("depth")
        depth = int(one.depth.max())
        for var, pred_var, text in _LIMIT_ROWS:
            predicted = float(one[pred_var])
            m_0 = f", m_0={int(one.input_dim)}" if "input_dim" in one.coords else ""
            claim = f"{text} (activation={one.activation.item()}, Delta={float(one.delta):g}, n={n}{m_0}, l={depth})"
            verdict = limit_verdict(predicted, one[var].values[-2:], rtol)
            rows.append(_row(claim, predicted, one[var].values[-1], math.nan, math.nan, verdict))
    return rows


def claims_table(
    deviations: xr.Dataset | None = None,
    spectrum: xr.Dataset | None = None,
    *,
    var: str = "op_abs",
    n_boot: int = DEFAULT_N_BOOT,
    seed: int,
    confidence: float = 0.95,
    rtol: float = LIMIT_RTOL,
) -> pd.DataFrame:
    """SCIENCE §4's claims against the data: one row per claim and configuration (see module docstring).

    Args:
        deviations: per-draw deviations (:func:`ntk_eoc.analysis.stats.deviations`) with dims ``draw``,
            ``base_width`` and any of ``activation``, ``schedule``, ``depth``, ``output_dim``.
        spectrum: :func:`ntk_eoc.analysis.spectrum.limit_spectrum` output, optionally over ``activation``.
        var: the deviation variable the concentration claims use.
        n_boot, seed, confidence: bootstrap settings; each claim group uses its own child of
            ``SeedSequence(seed)``.
        rtol: relative tolerance of the deep-limit verdict.

    Returns:
        DataFrame with columns :data:`COLUMNS` (ci_low, ci_high NaN for exact rows).
    """
    seeds = [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(4)]
    rows: list[dict] = []
    if deviations is not None:
        boot = {"n_boot": n_boot, "confidence": confidence}
        rows += _slope_rows(deviations, var, seed=seeds[0], **boot)
        rows += _output_dim_rows(deviations, var, seed=seeds[1], **boot)
        rows += _ratio_rows(deviations, var, "activation", "abs", "relu", seed=seeds[2], **boot)
        rows += _ratio_rows(deviations, var, "schedule", "quadratic", "constant", seed=seeds[3], **boot)
    if spectrum is not None:
        rows += _limit_rows(spectrum, rtol)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def markdown(table: pd.DataFrame, rules: Mapping[str, str], note: str = "") -> str:
    """A claims table (:data:`COLUMNS`) as Markdown, followed by its verdict rules and an optional note."""
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"

    def cell(v) -> str:
        if isinstance(v, float):
            return "—" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|")

    body = "".join("| " + " | ".join(cell(v) for v in row) + " |\n" for row in table[list(COLUMNS)].itertuples(False))
    listed = "\n".join(f"- **{k}**: {v}" for k, v in rules.items())
    return f"{head}{body}\nVerdict rules:\n\n{listed}\n" + (f"\n{note}" if note else "")


def claims_markdown(table: pd.DataFrame, rtol: float = LIMIT_RTOL) -> str:
    """The claims table as a Markdown table, followed by the verdict rules."""
    return markdown(table, {k: v.format(rtol=rtol) for k, v in VERDICT_RULES.items()})


def write_claims(
    table: pd.DataFrame, csv_path: str | Path, md_path: str | Path, rtol: float = LIMIT_RTOL, *, text: str | None = None
) -> None:
    """Write the table as CSV (NaN as empty) and its Markdown twin (``text``, default :func:`claims_markdown`)."""
    for p in (csv_path, md_path):
        Path(p).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False, na_rep="", float_format="%.6g")
    Path(md_path).write_text(claims_markdown(table, rtol) if text is None else text)
