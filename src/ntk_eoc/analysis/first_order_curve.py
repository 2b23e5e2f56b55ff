"""The predicted concentration curve: statistics of the first-order model's deviation norms at each base
width (SCIENCE §6.1), laid out as :func:`ntk_eoc.analysis.stats.summarize` lays out the measured ones, so
that measured and predicted sit side by side in ``concentration_summary.csv`` and in the figures.

A first-order store holds draws u of each norm at base width 1; at base width m the predicted draws are
u / sqrt(m) exactly (the widths k^2 m, k m, m scale the covariance by 1/m). Per base width: the mean, the
median and the 1 - 1/m quantile of u / sqrt(m), each with a percentile-bootstrap CI over the model's draws
(its Monte Carlo error; the Monte Carlo error of the covariance itself, about sqrt(1/(2 S)) relative for S
neurons per layer, is not in the interval).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from .bootstrap import percentile_ci
from .names import BOUNDS, STATISTICS

__all__ = ["PREDICTED_SUFFIX", "PREDICTION_BOOT", "predicted_name", "predicted_summary"]

PREDICTED_SUFFIX = "_first_order"
# Bootstrap resamples of a prediction's CI (the model's draws are cheap; the interval is its MC error).
PREDICTION_BOOT = 200


def predicted_name(var: str) -> str:
    """``op_rel`` -> ``op_rel_first_order``: the predicted variable of a measured one."""
    return f"{var}{PREDICTED_SUFFIX}"


def _quantile_sorted(sorted_draws: np.ndarray, level: float) -> np.ndarray:
    """numpy's default (linear) quantile of draws sorted along the last axis."""
    pos = level * (sorted_draws.shape[-1] - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, sorted_draws.shape[-1] - 1)
    return sorted_draws[..., lo] + (pos - lo) * (sorted_draws[..., hi] - sorted_draws[..., lo])


def predicted_summary(
    store: xr.Dataset, base_widths: Sequence[int], variables: Sequence[str], *, seed: int, confidence: float
) -> xr.Dataset:
    """``<var>_first_order`` over (base_width, statistic, bound) for each of ``variables`` (norms the store
    has over ``model_draw``): mean, median and q_{1-1/m} of u / sqrt(m) with bootstrap CIs."""
    widths = np.asarray(base_widths, dtype=np.int64)
    rng = np.random.default_rng(seed)
    draws = store.sizes["model_draw"]
    idx = rng.integers(0, draws, size=(PREDICTION_BOOT, draws))
    out = {}
    for var in variables:
        unit = np.sort(np.asarray(store[var].values, dtype=np.float64))
        boot = np.sort(unit[idx], axis=-1)  # resampled draws, each resample sorted once
        means = (unit.mean(), boot.mean(axis=-1))
        medians = (_quantile_sorted(unit, 0.5), _quantile_sorted(boot, 0.5))
        cells = []
        for m in widths:
            level, scale = 1.0 - 1.0 / float(m), 1.0 / np.sqrt(float(m))
            tails = (_quantile_sorted(unit, level), _quantile_sorted(boot, level))
            point = np.array([means[0], medians[0], tails[0]]) * scale
            low, high = percentile_ci(np.stack([means[1], medians[1], tails[1]], axis=-1) * scale, confidence, axis=0)
            cells.append(np.stack([point, low, high], axis=-1))
        out[predicted_name(var)] = (("base_width", "statistic", "bound"), np.stack(cells))
    coords = {"base_width": widths, "statistic": list(STATISTICS), "bound": list(BOUNDS)}
    return xr.Dataset(out, coords=coords).assign_coords(tail_resolved=("base_width", draws / widths >= 1))
