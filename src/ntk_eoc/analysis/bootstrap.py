"""Paired (common-random-numbers) bootstrap intervals for comparisons of configurations.   [SCIENCE §7]

Every configuration of a run uses the same sampler seed, so draw s of every configuration is built from
the key fold_in(key(seed), s): relu and abs share every weight, W_1 at m = 32 contains W_1 at m = 16.
Statistics of paired configurations are correlated (measured 0.37-0.49), which is a valid
variance-reduction design (common random numbers) only when an interval resamples the draw ids
JOINTLY: one resample is a multiset of draw ids s_1..s_N, drawn with replacement, and every configuration
the statistic compares is evaluated on those same ids. Resampling each configuration independently
ignores the covariance and gives intervals of the wrong width (sqrt 2 too wide at correlation 1/2).
Paired resampling is also valid when the configurations happen to be independent, so it is the only
design offered here.

Draw ids are read from the ``draw`` coordinate and aligned by value; arrays whose draw ids differ, repeat
or are missing raise ``ValueError``. Intervals of means, differences and slopes are percentile intervals:
the (alpha/2, 1 - alpha/2) quantiles of B resampled statistics, alpha = 1 - confidence. Intervals of
variance ratios (skewed, heavy-tailed estimators whose percentile interval covers 88-89% at 128 draws,
SCIENCE §8.8) are BCa intervals (:func:`bca_ci`): the percentile levels are moved by the bias
z0 = Phi^-1(#{theta*_b < theta} / B) and the acceleration a = sum_s d_s^3 / (6 (sum_s d_s^2)^{3/2}),
d_s = mean(theta_(.)) - theta_(s) over the leave-one-draw-out (jackknife) values, to
Phi(z0 + (z0 + z)/(1 - a (z0 + z))) at z = Phi^-1(alpha/2) and Phi^-1(1 - alpha/2) [Efron 1987]. Random
numbers: ``numpy.random.default_rng`` seeded by the given int or ``SeedSequence``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.special import ndtr, ndtri

from ..validate import check_finite, integer, real

__all__ = [
    "BCA_METHOD",
    "CI_METHOD",
    "DRAW_DIM",
    "RANDOM_NUMBERS",
    "Estimate",
    "SlopeFit",
    "aligned_draws",
    "bca_ci",
    "check_bootstrap_args",
    "fit_loglog_slope",
    "paired_difference",
    "paired_loglog_slope",
    "paired_ratio",
    "percentile_ci",
    "resample_counts",
    "resampled_statistic",
]

CI_METHOD = "percentile bootstrap"
BCA_METHOD = "BCa bootstrap (bias-corrected and accelerated, jackknife over draw ids)"
DRAW_DIM = "draw"
# The random-number design, for provenance: how draws are seeded and how intervals resample them.
RANDOM_NUMBERS = (
    "common random numbers: draw s of every configuration uses key fold_in(key(seed), s); "
    "intervals resample draw ids jointly across the configurations they compare (paired bootstrap)"
)
STATISTICS = ("mean", "median")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval [ci_low, ci_high] and how it was obtained."""

    value: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str


@dataclass(frozen=True)
class SlopeFit:
    """log y = intercept + slope log x, with a confidence interval on the slope and how it was obtained."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    confidence: float
    n_boot: int
    method: str


def check_bootstrap_args(n_boot: int, confidence: float, where: str = "bootstrap") -> None:
    """n_boot an integer >= 2, confidence in (0, 1); ValueError naming the key otherwise."""
    integer("n_boot", n_boot, 2, where=where)
    real("confidence", confidence, low=0.0, high=1.0, where=where)


def percentile_ci(boot: np.ndarray, confidence: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(alpha/2, 1 - alpha/2) quantiles of the resampled statistics along ``axis``, alpha = 1 - confidence."""
    alpha = 1.0 - confidence
    low, high = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0], axis=axis)
    return low, high


def bca_ci(
    boot: np.ndarray, point: np.ndarray | float, jack: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """BCa interval (see the module docstring) of every cell, from the B resampled values ``boot`` (B, ...),
    the point values (...) and the N leave-one-draw-out values ``jack`` (N, ...); cells of any shape.

    The levels are clipped to the resolution of the B resamples, [1/(2B), 1 - 1/(2B)], and the quantiles are
    read like ``np.quantile``'s default (linear between order statistics). With a = z0 = 0 it is the
    percentile interval; leave-one-out values that agree to 1e-9 relative give a = 0.
    """
    boot = np.asarray(boot, dtype=np.float64)
    point = np.asarray(point, dtype=np.float64)
    jack = np.asarray(jack, dtype=np.float64)
    n_boot = boot.shape[0]
    below = (np.mean(boot < point, axis=0) + 0.5 * np.mean(boot == point, axis=0)).clip(0.5 / n_boot, 1 - 0.5 / n_boot)
    z0 = ndtri(below)
    d = jack.mean(axis=0) - jack
    ss = np.sum(d * d, axis=0)
    # leave-one-out values equal up to rounding carry no skewness: a = 0 (not a ratio of rounding errors)
    spread = np.sqrt(ss) > 1e-9 * np.sqrt(jack.shape[0]) * np.abs(jack).max(axis=0)
    accel = np.divide(np.sum(d**3, axis=0), 6.0 * ss**1.5, out=np.zeros_like(ss), where=spread)
    alpha = 1.0 - confidence
    ordered = np.sort(boot, axis=0)
    out = []
    for z in (ndtri(alpha / 2.0), ndtri(1.0 - alpha / 2.0)):
        level = ndtr(z0 + (z0 + z) / (1.0 - accel * (z0 + z))).clip(0.0, 1.0)
        at = level * (n_boot - 1)
        lo = np.floor(at).astype(np.intp).clip(0, n_boot - 1)
        hi = np.minimum(lo + 1, n_boot - 1)
        frac = at - lo
        low_v = np.take_along_axis(ordered, lo[None, ...], axis=0)[0]
        high_v = np.take_along_axis(ordered, hi[None, ...], axis=0)[0]
        out.append(low_v + frac * (high_v - low_v))
    return out[0], out[1]


def resample_counts(n_draws: int, n_boot: int, seed: int | np.random.SeedSequence) -> np.ndarray:
    """(B, N) integer counts: row b says how often each of the N draw ids is in resample b (rows sum to N).

    One resample = N draw ids drawn uniformly with replacement; the same rows serve every configuration
    of a comparison, which is what makes the bootstrap paired.
    """
    integer("n_draws", n_draws, 1, where="resample_counts")
    integer("n_boot", n_boot, 1, where="resample_counts")
    idx = np.random.default_rng(seed).integers(0, n_draws, size=(n_boot, n_draws))
    flat = (idx + n_draws * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_draws).reshape(n_boot, n_draws)


def resampled_statistic(values: np.ndarray, counts: np.ndarray, statistic: str = "mean") -> np.ndarray:
    """The statistic over draws of every resample: values (..., N), counts (B, N) -> (B, ...).

    The mean is sum_s c_bs x_s / N; the median is that of the multiset (draw s repeated c_bs times).
    """
    if statistic not in STATISTICS:
        raise ValueError(f"resampled_statistic: statistic={statistic!r}: must be one of {STATISTICS}")
    x = np.asarray(values, dtype=np.float64)
    if statistic == "mean":
        return np.moveaxis(np.tensordot(x, counts.astype(np.float64), axes=([-1], [1])), -1, 0) / x.shape[-1]
    idx = np.repeat(np.tile(np.arange(x.shape[-1]), (counts.shape[0], 1)).ravel(), counts.ravel())
    idx = idx.reshape(counts.shape[0], x.shape[-1])  # (B, N) draw indices of each resample
    return np.moveaxis(np.median(x[..., idx], axis=-1), -1, 0)


def aligned_draws(*arrays: xr.DataArray, dim: str = DRAW_DIM, where: str = "paired bootstrap") -> list[xr.DataArray]:
    """The arrays sorted by their ``dim`` coordinate; ValueError unless all hold the same draw ids once each.

    Paired resampling is only meaningful when entry s of every array comes from draw id s.
    """
    out, ids = [], None
    for k, a in enumerate(arrays):
        if dim not in a.dims or dim not in a.coords:
            raise ValueError(f"{where}: array {k} needs a {dim!r} dim with draw ids as coordinate, got {a.dims}")
        values = np.asarray(a[dim].values)
        if np.unique(values).size != values.size:
            raise ValueError(f"{where}: array {k} repeats draw ids")
        a = a.sortby(dim)
        if ids is None:
            ids = a[dim].values
        elif not np.array_equal(a[dim].values, ids):
            diff = sorted(set(ids.tolist()) ^ set(a[dim].values.tolist()))[:5]
            raise ValueError(f"{where}: draw ids differ between array 0 and array {k} (e.g. {diff})")
        check_finite(a, where)
        out.append(a)
    return out


def _paired(x: xr.DataArray, y: xr.DataArray, n_boot: int, seed, confidence: float, where: str):
    check_bootstrap_args(n_boot, confidence, where)
    xs, ys = aligned_draws(x, y, where=where)
    if xs.ndim != 1 or ys.ndim != 1:
        raise ValueError(f"{where}: x and y must be 1-d over 'draw', got dims {xs.dims} and {ys.dims}")
    values = np.stack([xs.values, ys.values]).astype(np.float64)
    boot = resampled_statistic(values, resample_counts(values.shape[1], n_boot, seed))  # (B, 2)
    return values.mean(axis=1), boot


def paired_ratio(
    x: xr.DataArray, y: xr.DataArray, *, n_boot: int, seed: int | np.random.SeedSequence, confidence: float = 0.95
) -> Estimate:
    """mean(x) / mean(y) over the same draw ids, with a paired percentile-bootstrap CI.   [SCIENCE §7]

    Args:
        x, y: 1-d over ``draw`` (coordinate = draw ids; the same ids in both, any order), finite.
        n_boot: resamples B; seed: the numpy Generator's seed; confidence: CI level.

    Raises:
        ValueError: differing draw ids, NaN/inf, or mean(y) = 0.
    """
    point, boot = _paired(x, y, n_boot, seed, confidence, "paired_ratio")
    if point[1] == 0.0 or np.any(boot[:, 1] == 0.0):
        raise ValueError("paired_ratio: mean(y) = 0 (in the sample or a resample)")
    low, high = percentile_ci(boot[:, 0] / boot[:, 1], confidence)
    method = f"{CI_METHOD} (B={n_boot}), draw ids resampled jointly for x and y (paired)"
    return Estimate(float(point[0] / point[1]), float(low), float(high), confidence, method)


def paired_difference(
    x: xr.DataArray, y: xr.DataArray, *, n_boot: int, seed: int | np.random.SeedSequence, confidence: float = 0.95
) -> Estimate:
    """mean(x) - mean(y) over the same draw ids, with a paired percentile-bootstrap CI.   [SCIENCE §7]

    Same arguments and checks as :func:`paired_ratio`.
    """
    point, boot = _paired(x, y, n_boot, seed, confidence, "paired_difference")
    low, high = percentile_ci(boot[:, 0] - boot[:, 1], confidence)
    method = f"{CI_METHOD} (B={n_boot}), draw ids resampled jointly for x and y (paired)"
    return Estimate(float(point[0] - point[1]), float(low), float(high), confidence, method)


def _ols_slope(log_x: np.ndarray, log_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares log_y = a + b log_x along the last axis; returns (b, a)."""
    xc = log_x - log_x.mean()
    slope = (log_y * xc).sum(axis=-1) / (xc * xc).sum()
    return slope, log_y.mean(axis=-1) - slope * log_x.mean()


def fit_loglog_slope(
    x: Sequence[float],
    y: np.ndarray,
    *,
    statistic: str = "mean",
    n_boot: int,
    seed: int | np.random.SeedSequence,
    confidence: float = 0.95,
) -> SlopeFit:
    """log s(y_k) = a + b log x_k by least squares; CI on b by a paired bootstrap over draw ids.

    ``y[k, s]`` is draw id s at x_k: the same ids at every x (common random numbers). Each of B
    resamples draws N ids with replacement, evaluates s (mean or median) at every x on those same ids
    and refits b; the CI is the percentile interval of the B slopes.

    Args:
        x: k >= 2 distinct values > 0 (base widths, depths, output dims).
        y: (k, N) draws, finite, column s = draw id s at every x; the statistic must be > 0 at every x.
        statistic: "mean" or "median".
        n_boot, seed, confidence: bootstrap settings.
    """
    check_bootstrap_args(n_boot, confidence, "fit_loglog_slope")
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.size < 2 or np.unique(xs).size != xs.size or not np.all(np.isfinite(xs) & (xs > 0)):
        raise ValueError(f"fit_loglog_slope: x={list(np.ravel(x))}: need >= 2 distinct positive values")
    if ys.ndim != 2 or ys.shape[0] != xs.size or ys.shape[1] < 1:
        raise ValueError(f"fit_loglog_slope: y needs shape (len(x), n_draws) = ({xs.size}, N), got {ys.shape}")
    if not np.all(np.isfinite(ys)):
        raise ValueError("fit_loglog_slope: y must be finite")
    if statistic not in STATISTICS:
        raise ValueError(f"fit_loglog_slope: statistic={statistic!r}: must be one of {STATISTICS}")
    log_x = np.log(xs)
    point = np.mean(ys, axis=1) if statistic == "mean" else np.median(ys, axis=1)
    boot = resampled_statistic(ys, resample_counts(ys.shape[1], n_boot, seed), statistic)  # (B, k)
    if np.any(point <= 0) or np.any(boot <= 0):
        raise ValueError(f"fit_loglog_slope: the {statistic} of y must be > 0 at every x (and in every resample)")
    slope, intercept = _ols_slope(log_x, np.log(point))
    low, high = percentile_ci(_ols_slope(log_x, np.log(boot))[0], confidence)
    method = f"{CI_METHOD} (B={n_boot}), draw ids resampled jointly at every x (paired); OLS of log {statistic}"
    return SlopeFit(float(slope), float(intercept), float(low), float(high), confidence, int(n_boot), method)


def paired_loglog_slope(
    y: xr.DataArray,
    along: str,
    *,
    statistic: str = "mean",
    n_boot: int,
    seed: int | np.random.SeedSequence,
    confidence: float = 0.95,
) -> SlopeFit:
    """:func:`fit_loglog_slope` of ``y`` (dims ``along`` and ``draw`` only) against the ``along`` coordinate.

    E.g. ``along="base_width"`` (the m^-1/2 rate), ``"depth"`` (flat or growing in depth) or
    ``"output_dim"``; the same draw ids are resampled at every value of ``along``.
    """
    if set(y.dims) != {along, DRAW_DIM} or along not in y.coords:
        raise ValueError(f"paired_loglog_slope: needs dims ({along!r}, 'draw') with coordinates, got {y.dims}")
    (y,) = aligned_draws(y, where="paired_loglog_slope")
    y = y.transpose(along, DRAW_DIM)
    return fit_loglog_slope(
        y[along].values, y.values, statistic=statistic, n_boot=n_boot, seed=seed, confidence=confidence
    )
