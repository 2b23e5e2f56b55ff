"""The tidy tables of an experiment (``tables/*.csv``), each with a fixed column order: the coordinates
in dim order, then the variables in sorted order (never the order of a dict or a hash)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .spectrum import condition_number, singular_draws

__all__ = ["cost_table", "frame", "kernel_spectra", "singular_counts", "tidy"]

_DROPPED = ("tail_level", "tail_resolved")


def _ordered(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Columns: ``keys`` (in order, those present), then the rest sorted."""
    first = [k for k in keys if k in table.columns]
    return table[first + sorted(c for c in table.columns if c not in first)]


def tidy(summary: xr.Dataset, names: Sequence[str]) -> pd.DataFrame:
    """One row per variable and cell of a :func:`~.stats.summarize` output, columns value, ci_low, ci_high."""
    values = summary[list(names)].to_array("variable").to_series().unstack("bound").reset_index()
    values = values[[c for c in values.columns if c not in _DROPPED]]
    keys = ["variable", *(d for d in summary[names[0]].dims if d != "bound")]
    return _ordered(values, keys)


def frame(ds: xr.Dataset) -> pd.DataFrame:
    """Tidy DataFrame of a Dataset (a 0-d one gives one row), columns in a fixed order."""
    if not ds.dims:
        return _ordered(pd.DataFrame([{k: ds[k].item() for k in ds.variables}]), [])
    return _ordered(ds.to_dataframe().reset_index(), list(ds.dims))


def kernel_spectra(conc: xr.Dataset, size: int, eps: float) -> tuple[xr.Dataset, xr.DataArray]:
    """lambda_min, lambda_max and cond = lambda_max / lambda_min of K(theta), with the mask of the
    numerically singular draws (:func:`~.spectrum.singular_draws`, K of order ``size`` sampled with machine
    epsilon ``eps``, or a dead input: ``dead_inputs`` > 0 where the store has it), whose cond is not a number
    to summarise: it is set to 0 there, and the mask says so."""
    out = conc[["lambda_min", "lambda_max"]]
    singular = singular_draws(out.lambda_min.values, out.lambda_max.values, size, eps)
    if "dead_inputs" in conc:
        singular |= conc.dead_inputs.transpose(*out.lambda_min.dims).values > 0
    lo = np.where(singular, 1.0, out.lambda_min.values)
    cond = np.where(singular, 0.0, condition_number(lo, out.lambda_max.values))
    mask = xr.DataArray(singular, dims=out.lambda_min.dims, coords=out.lambda_min.coords, name="singular")
    return out.assign(cond=(out.lambda_min.dims, cond)), mask


def singular_counts(conc: xr.Dataset, singular: xr.DataArray) -> pd.DataFrame:
    """Per cell (every dim but draw): ``singular_draws`` and, of those, ``dead_input_draws`` (a zero diagonal
    entry: an input no path reaches, so lambda_min = 0 exactly) and ``rank_draws`` (lambda_min within rounding
    of 0 with every input alive), in the long format of :func:`tidy` (statistic "count", no CI)."""
    dead = conc.dead_inputs > 0 if "dead_inputs" in conc else xr.zeros_like(singular)
    counts = xr.Dataset({
        "singular_draws": singular.sum("draw"),
        "dead_input_draws": (singular & dead).sum("draw"),
        "rank_draws": (singular & ~dead).sum("draw"),
    })  # fmt: skip
    frame_ = counts.to_array("variable").to_series().rename("value").reset_index()
    frame_ = frame_[[c for c in frame_.columns if c not in _DROPPED]].assign(statistic="count")
    keys = ["variable", *(d for d in singular.dims if d != "draw")]
    return _ordered(frame_.assign(value=frame_.value.astype(float)), keys)


def cost_table(conc: xr.Dataset, summary: xr.Dataset, ksum: xr.Dataset, var: str, n_points: int) -> pd.DataFrame:
    """Per run cell and base width: parameters, forward FLOPs over the n points (2 n P), measured seconds
    per draw, mean deviation ``var`` and mean lambda_min(K(theta)) (empty without cost variables)."""
    if "n_params" not in conc:
        return pd.DataFrame()
    table = conc[["n_params", "seconds_per_draw"]].to_dataframe().reset_index()
    dev = summary[var].sel(statistic="mean", bound="value", drop=True).rename(f"mean_{var}")
    lam = ksum["lambda_min"].sel(statistic="mean", bound="value", drop=True).rename("mean_lambda_min")
    extra = xr.merge([dev, lam], compat="no_conflicts", join="outer").to_dataframe().reset_index()
    extra = extra[[c for c in extra.columns if c not in _DROPPED]]
    table = table.merge(extra, on=[c for c in table.columns if c in extra.columns])
    n = table["dataset.n_points"] if "dataset.n_points" in table else n_points
    table["forward_flops"] = 2 * n * table["n_params"]
    return _ordered(table, [d for d in conc["n_params"].dims])
