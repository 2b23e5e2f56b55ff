"""Concentration of K(theta) around K_inf: deviations, bootstrap summaries, fitted rates.   [SCIENCE §4]

[TGS25-Conc] (SCIENCE §4.1) proves, for m_k = k^2 m,

    P( ||K(theta) - K_inf|| <= O((Delta^-2 + sqrt(m_l) l) kappa^2 m^-1/2) ) >= 1 - O(1/m)   (up to logs),

with ||.|| the operator norm. This module measures the left-hand side per draw (operator, Frobenius and
max-entry norms, absolute and relative to the same norm of K_inf), summarizes it per configuration
(mean, median, quantiles including the 1 - 1/m quantile, percentile-bootstrap confidence intervals),
fits the rate in m on log-log axes and holds the only definition of the theory factor
(Delta^-2 + sqrt(m_l) l) kappa^2 and of its log-slope between measured points.

Labelled dims: ``i``, ``j`` (rows and columns of the (n m_l) x (n m_l) matrix), ``draw``, ``base_width``;
summaries add ``statistic`` (mean, median, tail = the 1 - 1/m quantile), ``bound`` (value, ci_low,
ci_high) and ``quantile``. All statistics are float64. Any NaN or inf in an input raises ``ValueError``.

Confidence intervals are percentile bootstrap intervals (not BCa). :func:`summarize` describes one
configuration at a time (a marginal interval: B resamples of its draws). Fitted rates compare
configurations that share draw ids (common random numbers, SCIENCE §7), so :func:`fit_slopes` resamples
the draw ids jointly at every width (:mod:`ntk_eoc.analysis.bootstrap`). Random numbers come from numpy
Generators seeded by ``numpy.random.SeedSequence(seed)``, one child sequence per configuration cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from ..math.activations import Activation
from ..validate import check_finite, integer
from .bootstrap import (
    CI_METHOD,
    RANDOM_NUMBERS,
    Estimate,
    SlopeFit,
    check_bootstrap_args,
    fit_loglog_slope,
    paired_difference,
    paired_loglog_slope,
    paired_ratio,
    percentile_ci,
)
from .names import BOUNDS, DEFAULT_N_BOOT, DEFAULT_QUANTILES, NORMS, STATISTICS

__all__ = [
    "BOUNDS",
    "CI_METHOD",
    "DEFAULT_N_BOOT",
    "DEFAULT_QUANTILES",
    "NORMS",
    "RANDOM_NUMBERS",
    "STATISTICS",
    "Estimate",
    "SlopeFit",
    "bound_log_slope",
    "deviations",
    "fit_loglog_slope",
    "fit_slopes",
    "matrix_norms",
    "paired_difference",
    "paired_loglog_slope",
    "paired_ratio",
    "summarize",
    "theory_bound_factor",
]

# |A - A^T| allowed, relative to max|A|: float32 kernels accumulate ~1e-7 rounding per product; a
# larger asymmetry means a wrong layout, and eigvalsh would silently read only one triangle.
SYMMETRY_RTOL = 1e-4
MATRIX_DIMS = ("i", "j")


def _check_symmetric(values: np.ndarray, name: str) -> None:
    asym = np.max(np.abs(values - np.swapaxes(values, -1, -2)), initial=0.0)
    scale = np.max(np.abs(values), initial=0.0)
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(f"{name}: not symmetric (max |A - A^T| = {asym:.3g}, max |A| = {scale:.3g})")


def _norms_core(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(||A||_op, ||A||_F, max |A_ij|) over the last two axes of symmetric A, float64."""
    a = np.asarray(values, dtype=np.float64)
    op = np.max(np.abs(np.linalg.eigvalsh(a)), axis=-1)
    return op, np.sqrt(np.sum(a * a, axis=(-2, -1))), np.max(np.abs(a), axis=(-2, -1))


def matrix_norms(matrices: xr.DataArray, dims: Sequence[str] = MATRIX_DIMS) -> xr.Dataset:
    """||A||_op = max |eig(A)|, ||A||_F = sqrt(sum A_ij^2), ||A||_max = max |A_ij| of symmetric A.

    Args:
        matrices: symmetric matrices over ``dims`` (any leading dims), finite.
        dims: the row and column dims.

    Returns:
        Dataset with float64 ``op``, ``fro``, ``max`` over the leading dims.
    """
    check_finite(matrices, "matrix_norms")
    _check_symmetric(np.asarray(matrices.transpose(..., *dims).values), "matrix_norms")
    op, fro, mx = xr.apply_ufunc(
        _norms_core,
        matrices,
        input_core_dims=[list(dims)],
        output_core_dims=[[], [], []],
        dask="parallelized",
        output_dtypes=[np.float64] * 3,
    )
    return xr.Dataset({"op": op, "fro": fro, "max": mx})


def deviations(samples: xr.DataArray, limit: xr.DataArray, dims: Sequence[str] = MATRIX_DIMS) -> xr.Dataset:
    """||K(theta) - K_inf|| per sample in the operator, Frobenius and max-entry norms.   [SCIENCE §4]

    ``<norm>_abs = ||K - K_inf||`` and ``<norm>_rel = ||K - K_inf|| / ||K_inf||`` (same norm), float64;
    the operator norm of the symmetric difference is max |eigvalsh(K - K_inf)|.

    Args:
        samples: K(theta) draws with dims (..., "i", "j"), e.g. (draw, base_width, i, j).
        limit: K_inf with dims ("i", "j") (or more dims that broadcast against ``samples``).
        dims: the row and column dims.

    Returns:
        Dataset with ``op_abs, fro_abs, max_abs, op_rel, fro_rel, max_rel`` over the leading dims.

    Raises:
        ValueError: NaN/inf in either input, mismatched i/j coordinates, or a non-symmetric matrix.
    """
    check_finite(samples, "deviations: samples")
    check_finite(limit, "deviations: limit")
    if any(d not in samples.dims or d not in limit.dims for d in dims):
        raise ValueError(f"deviations: both inputs need dims {tuple(dims)}, got {samples.dims} and {limit.dims}")
    if samples.sizes[dims[0]] != limit.sizes[dims[0]] or samples.sizes[dims[1]] != limit.sizes[dims[1]]:
        raise ValueError(f"deviations: matrix sizes differ: samples {dict(samples.sizes)}, limit {dict(limit.sizes)}")
    samples, limit = xr.align(samples.astype(np.float64), limit.astype(np.float64), join="exact")
    absolute = matrix_norms(samples - limit, dims)
    reference = matrix_norms(limit, dims)
    out = {f"{k}_abs": absolute[k] for k in NORMS}
    out.update({f"{k}_rel": absolute[k] / reference[k] for k in NORMS})
    return xr.Dataset(out)


def _cell_summary(x: np.ndarray, tail_level: float, quantiles, n_boot, rng, confidence) -> tuple[np.ndarray, ...]:
    """Statistics of V variables over N draws, x: (V, N) -> (V, 3, 3) [statistic, bound], (V, Q)."""
    idx = rng.integers(0, x.shape[-1], size=(n_boot, x.shape[-1]))
    boot = x[:, idx]  # (V, B, N)

    def stats(a):
        return np.stack([a.mean(axis=-1), np.median(a, axis=-1), np.quantile(a, tail_level, axis=-1)], axis=-1)

    point = stats(x)  # (V, 3)
    low, high = percentile_ci(stats(boot), confidence, axis=1)  # (V, 3) each
    return np.stack([point, low, high], axis=-1), np.quantile(x, list(quantiles), axis=-1).T


def summarize(
    dev: xr.Dataset,
    dim: str = "draw",
    width_dim: str = "base_width",
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    n_boot: int = DEFAULT_N_BOOT,
    *,
    seed: int,
    confidence: float = 0.95,
    workers: int = 1,
    exclude: xr.DataArray | None = None,
) -> xr.Dataset:
    """mean, median, q_{1-1/m} over draws, with percentile-bootstrap CIs, and fixed quantiles.

    Per cell of the remaining coords (e.g. activation, schedule, base_width): the N draws x_1..x_N of each
    variable give the mean, the median and the tail quantile q_{1-1/m} (m = the cell's ``width_dim``
    value; SCIENCE §4's bound holds with probability 1 - O(1/m)), each with a percentile bootstrap CI
    (B = ``n_boot`` resamples of the N draws, one joint resample for all variables of a cell).
    Quantiles use numpy's default (linear interpolation). The tail quantile is only resolved when
    N/m >= 1 (coord ``tail_resolved``); below that it sits between the two largest draws.

    Args:
        dev: Dataset whose variables have ``dim`` (e.g. :func:`deviations` output); finite.
        dim: the draw dim, reduced.
        width_dim: dim or coord holding the base width m >= 1.
        quantiles: levels in [0, 1] reported in the ``<var>_quantile`` variables.
        n_boot: bootstrap resamples B.
        seed: seeds ``SeedSequence(seed)``; cell c uses its c-th child (C order of the remaining dims).
        confidence: CI level.
        workers: threads over cells (numpy's partitions release the GIL); the result does not depend on it.
        exclude: boolean over the draws of ``dev`` (its dims, broadcast): draws left out of their cell (e.g. the
            numerically singular draws of cond); their values are never read. A cell keeps its other draws
            (variable ``n_used``); a cell with fewer than 2 is NaN, by this request only.

    Returns:
        Dataset: ``<var>`` over (remaining dims, statistic, bound); ``<var>_quantile`` over
        (remaining dims, quantile); coords ``tail_level`` = 1 - 1/m, ``tail_resolved``; ``n_draws``.
    """
    check_bootstrap_args(n_boot, confidence, "summarize")
    names = list(dev.data_vars)
    if not names or any(dim not in dev[v].dims for v in names):
        raise ValueError(f"summarize: every variable needs dim {dim!r}, got {dict(dev.sizes)}")
    if width_dim not in dev.coords:
        raise ValueError(f"summarize: no {width_dim!r} coordinate (needed for the 1 - 1/m quantile)")
    if exclude is not None:
        exclude = exclude.astype(bool).broadcast_like(dev[names[0]])
        dev = dev.assign({v: dev[v].where(~exclude, 0.0) for v in names})  # never read: a placeholder
    for v in names:
        check_finite(dev[v], f"summarize: {v}")
    stacked = xr.concat([dev[v].astype(np.float64) for v in names], dim="variable").transpose("variable", ..., dim)
    cell_dims = stacked.dims[1:-1]
    tail = (1.0 - 1.0 / dev[width_dim].astype(np.float64)).rename("tail_level")
    tail_b = tail.broadcast_like(stacked.isel(variable=0, **{dim: 0}, drop=True)).transpose(*cell_dims)
    n_draws = stacked.sizes[dim]
    values = stacked.values.reshape(len(names), -1, n_draws)
    cells = values.shape[1]
    children = np.random.SeedSequence(seed).spawn(cells)
    summary = np.empty((len(names), cells, len(STATISTICS), len(BOUNDS)))
    quant = np.empty((len(names), cells, len(quantiles)))
    levels = tail_b.values.reshape(-1)
    keep = np.ones((cells, n_draws), dtype=bool)
    if exclude is not None:
        keep = ~exclude.transpose(*stacked.dims[1:]).values.reshape(cells, n_draws)

    def cell(c: int) -> None:
        rng = np.random.default_rng(children[c])
        if keep[c].sum() < 2:
            summary[:, c], quant[:, c] = np.nan, np.nan
            return
        x = values[:, c][:, keep[c]]
        summary[:, c], quant[:, c] = _cell_summary(x, float(levels[c]), quantiles, n_boot, rng, confidence)

    with ThreadPoolExecutor(max_workers=integer("workers", workers, 1, where="summarize")) as pool:
        list(pool.map(cell, range(cells)))
    out = _summary_dataset(stacked, names, summary, quant, quantiles)
    out = out.assign_coords(tail_level=tail, tail_resolved=n_draws / dev[width_dim] >= 1)
    out["n_draws"] = n_draws
    if exclude is not None:
        shape = tuple(stacked.sizes[d] for d in cell_dims)
        out["n_used"] = (cell_dims, keep.sum(axis=1).reshape(shape))
    out.attrs.update(ci_method=CI_METHOD, n_boot=int(n_boot), seed=int(seed), confidence=float(confidence))
    return out


def _summary_dataset(stacked: xr.DataArray, names, summary: np.ndarray, quant: np.ndarray, quantiles) -> xr.Dataset:
    """Reshape per-cell results (V, C, ...) back onto the cell dims of ``stacked`` (variable, cells..., draw)."""
    cell_dims = stacked.dims[1:-1]
    shape = tuple(stacked.sizes[d] for d in cell_dims)
    out = xr.Dataset(coords={d: stacked[d] for d in cell_dims if d in stacked.coords})
    for k, v in enumerate(names):
        out[v] = ((*cell_dims, "statistic", "bound"), summary[k].reshape(*shape, len(STATISTICS), len(BOUNDS)))
        out[f"{v}_quantile"] = ((*cell_dims, "quantile"), quant[k].reshape(*shape, len(quantiles)))
    return out.assign_coords(statistic=list(STATISTICS), bound=list(BOUNDS), quantile=list(quantiles))


def fit_slopes(
    dev: xr.Dataset,
    var: str = "op_abs",
    dim: str = "draw",
    width_dim: str = "base_width",
    *,
    statistic: str = "mean",
    n_boot: int = DEFAULT_N_BOOT,
    seed: int,
    confidence: float = 0.95,
    min_width: float | None = None,
) -> xr.Dataset:
    """:func:`fit_loglog_slope` of ``dev[var]`` against ``width_dim`` for every other cell (paired bootstrap).

    Within a cell, entry s along ``dim`` is the same draw id at every width, and each resample draws
    the ids jointly for all widths (common random numbers, SCIENCE §7).

    Args:
        min_width: fit only widths >= this (the O(1/m) finite-width bias bends the curve at small m);
            None: all widths. Fewer than 2 remaining widths raise ValueError.

    Returns:
        Dataset with ``slope``, ``intercept``, ``ci_low``, ``ci_high`` over the dims other than ``dim``
        and ``width_dim``; cell c uses child c of ``SeedSequence(seed)``; attrs ``min_width``, ``widths``.
    """
    da = dev[var]
    if min_width is not None:
        da = da.sel({width_dim: da[width_dim] >= min_width})
    if da.sizes.get(width_dim, 0) < 2:
        raise ValueError(f"fit_slopes: min_width={min_width!r}: fewer than 2 {width_dim} values remain")
    check_finite(da, f"fit_slopes: {var}")
    da = da.transpose(..., width_dim, dim)
    cell_dims = da.dims[:-2]
    shape = tuple(da.sizes[d] for d in cell_dims)
    values = da.values.reshape(-1, da.sizes[width_dim], da.sizes[dim])
    children = np.random.SeedSequence(seed).spawn(values.shape[0])
    fits = [
        fit_loglog_slope(da[width_dim].values, v, statistic=statistic, n_boot=n_boot, seed=c, confidence=confidence)
        for v, c in zip(values, children, strict=True)
    ]
    coords = {d: da[d] for d in cell_dims if d in da.coords}
    fields = ("slope", "intercept", "ci_low", "ci_high")
    out = xr.Dataset(
        {f: (cell_dims, np.array([getattr(ft, f) for ft in fits]).reshape(shape)) for f in fields}, coords=coords
    )
    out.attrs.update(variable=var, method=fits[0].method, confidence=float(confidence), seed=int(seed))
    out.attrs.update(min_width=0 if min_width is None else min_width, widths=da[width_dim].values.tolist())
    return out


def theory_bound_factor(activation: Activation, depth: int, output_dim: int = 1) -> float:
    """(Delta^-2 + sqrt(m_l) l) kappa^2: the factor of m^-1/2 in the bound of [TGS25-Conc].   [SCIENCE §4]

    Delta = 0 (a linear network, outside the theorem) gives ``math.inf``.
    """
    integer("depth", depth, where="theory_bound_factor")
    integer("output_dim", output_dim, where="theory_bound_factor")
    if activation.delta == 0.0:
        return math.inf
    return (activation.delta**-2 + math.sqrt(output_dim) * depth) * activation.kappa**2


def bound_log_slope(activation: Activation, depths: Sequence[int], output_dims: Sequence[int]) -> float:
    """OLS slope of log (Delta^-2 + sqrt(m_l) l) against log of the one swept variable.   [SCIENCE §4]

    The bound's own dependence on depth l or output dimension m_l, fitted over the measured points as
    a measured exponent is: exactly one of ``depths``, ``output_dims`` has >= 2 values, the other one.
    E.g. l = 4, m_l in {1, 2}: 0.272 (ReLU, Delta^-2 = 4), 0.413 (abs, Delta^-2 = 1).
    """
    ls, outs = np.asarray(depths, dtype=np.float64), np.asarray(output_dims, dtype=np.float64)
    if (ls.size > 1) == (outs.size > 1) or min(ls.size, outs.size) != 1:
        raise ValueError(f"bound_log_slope: sweep one of depths={list(depths)}, output_dims={list(output_dims)}")
    if activation.delta == 0.0:
        raise ValueError(f"bound_log_slope: activation={activation.name!r}: Delta = 0 is outside the bound")
    factor = activation.delta**-2 + np.sqrt(outs) * ls
    x = np.log(ls if ls.size > 1 else outs)
    xc = x - x.mean()
    return float((np.log(factor) * xc).sum() / (xc * xc).sum())
