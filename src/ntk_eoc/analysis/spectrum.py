"""Spectra of NTK matrices and of the deep limit K_inf.   [SCIENCE §4.2, TGS25-Spec]

Deep EOC networks drive rho_l -> 1, and [TGS25-Spec] approximates the entries of K_inf by inverse cosine
distances of the layer-l activations. SCIENCE §4 derives, for unit-norm inputs (||x||^2 = m_0), x != x',

    Theta_l = C (1 - rho_l)^{-1/2} - 1/8 + O(1/(Delta^2 l)),   C = 3 pi / (8 sqrt 2 Delta)
    Theta_l = l/4 + (3/8) ln l + kappa(Delta, rho_1) + O((ln l + Delta^-2)/l)     (Theta_l(x, x) = l)

hence, with K_inf = Theta_l / n ((3/4) I + (1/4) 1 1^T at leading order),

    lambda_min n/l = 3/4 - (3/8) ln(l)/l + O(1/l),   lambda_max n/l = (n+3)/4 + (3/8)(n-1) ln(l)/l + O(1/l),
    cond(K_inf)    = 1 + n/3 + [(2n/3) ln l + D(Delta, X)]/l + o(1/l).

So l (q - q_inf) = c ln l + const + o(1) for q in {mean off-diagonal Theta_l/l, lambda_min n/l,
lambda_max n/l, cond} with the ln-l coefficients c = 3/8, -3/8, (3/8)(n-1), 2n/3 (:class:`PredictedLimits`);
:func:`limit_spectrum` stores the residuals l (q - q_inf) - c ln l, which converge, and the relative
errors of the plain and corrected inverse-cosine forms (the plain one is -> 1/(2l), the corrected one
o(1/l)). All eigenvalues are float64 from a symmetric solver (``numpy.linalg.eigvalsh``). With m_l
outputs, K_inf = kron(Theta_l/n, I_{m_l}) has the same eigenvalues, each m_l times.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..math.activations import Activation
from ..math.layout import dataset_scale
from ..math.limit import input_angles, theta_at_depths
from ..validate import check_finite, integer
from .stats import MATRIX_DIMS, SYMMETRY_RTOL

__all__ = [
    "INV_COS_CORRECTION",
    "INV_COS_PLAIN_SCALED_ERROR",
    "SINGULAR_FACTOR",
    "PredictedLimits",
    "asymptotic_residuals",
    "condition_number",
    "eigen_summary",
    "inverse_cosine_constant",
    "inverse_cosine_errors",
    "limit_spectrum",
    "predicted_limits",
    "singular_draws",
]

# Off-diagonal limit of Theta_l / l (SCIENCE §4).
THETA_OFFDIAG_LIMIT = 0.25
# ln-l coefficient of l (Theta_l / l - 1/4) off the diagonal, independent of Delta and data (SCIENCE §4).
THETA_LOG_COEF = 0.375
# Theta_l = C (1 - rho_l)^{-1/2} - 1/8 + O(theta_l): the plain form overestimates by 1/8 (SCIENCE §4).
INV_COS_CORRECTION = 0.125
# l x relative error of the plain form -> (1/8) / (l/4) x l = 1/2 (SCIENCE §4).
INV_COS_PLAIN_SCALED_ERROR = 0.5


@dataclass(frozen=True)
class PredictedLimits:
    """l -> infinity limits of the K_inf spectrum for n unit-norm inputs.   [SCIENCE §4]

    Attributes:
        lambda_min_scaled: lambda_min n / l -> 3/4.
        lambda_max_scaled: lambda_max n / l -> (n + 3) / 4.
        cond: lambda_max / lambda_min -> 1 + n / 3.
        theta_offdiag_scaled: Theta_l(x, x') / l -> 1/4 for x != x'.
        *_log_coef: c in l (q - q_inf) = c ln l + O(1) for the quantity q named by the prefix:
            lambda_min -3/8, lambda_max (3/8)(n-1), cond 2n/3, theta_offdiag 3/8.
    """

    lambda_min_scaled: float
    lambda_max_scaled: float
    cond: float
    theta_offdiag_scaled: float
    lambda_min_log_coef: float
    lambda_max_log_coef: float
    cond_log_coef: float
    theta_offdiag_log_coef: float


def predicted_limits(n: int) -> PredictedLimits:
    """(3/4, (n+3)/4, 1 + n/3, 1/4) and the ln-l coefficients (-3/8, (3/8)(n-1), 2n/3, 3/8).   [SCIENCE §4]"""
    integer("n", n, 2, where="predicted_limits")
    c, g = THETA_OFFDIAG_LIMIT, THETA_LOG_COEF
    # (1 - c) I + c 1 1^T with c -> c + g ln(l)/l: the eigenvalues move by -g and (n - 1) g times ln(l)/l
    lo, hi = 1.0 - c, 1.0 - c + n * c
    cond_coef = ((n - 1) * g * lo + g * hi) / lo**2  # d(hi/lo) = (d hi lo - hi d lo) / lo^2
    return PredictedLimits(lo, hi, hi / lo, c, -g, (n - 1) * g, cond_coef, g)


def inverse_cosine_constant(delta: float) -> float:
    """C = 3 pi / (8 sqrt 2 Delta) in Theta_l ~ C (1 - rho_l)^{-1/2}; inf for Delta = 0."""
    return math.inf if delta == 0.0 else 3.0 * math.pi / (8.0 * math.sqrt(2.0) * delta)


def condition_number(lambda_min: np.ndarray, lambda_max: np.ndarray) -> np.ndarray:
    """cond = lambda_max / lambda_min, and inf where lambda_min <= 0 (singular up to rounding)."""
    lo, hi = np.asarray(lambda_min, dtype=np.float64), np.asarray(lambda_max, dtype=np.float64)
    positive = lo > 0
    return np.where(positive, hi / np.where(positive, lo, 1.0), np.inf)


# A draw is numerically singular when lambda_min lies within this many eps N lambda_max of 0 (SCIENCE §8.7:
# a dead input gives lambda_min = 0 exactly, returned as +-1e-17..1e-15 by eigvalsh; entries rounded to the
# sampled dtype move eigenvalues by up to about eps N lambda_max, so a smaller lambda_min is not resolved).
SINGULAR_FACTOR = 10.0


def singular_draws(lambda_min: np.ndarray, lambda_max: np.ndarray, size: int, eps: float) -> np.ndarray:
    """True where K is numerically singular: lambda_min <= SINGULAR_FACTOR eps N lambda_max (a PSD K's
    lambda_min within rounding of 0, or below it), N = ``size`` (the order of K) and ``eps`` the machine
    epsilon of the dtype K was sampled in (SCIENCE §8.7)."""
    lo, hi = np.asarray(lambda_min, dtype=np.float64), np.asarray(lambda_max, dtype=np.float64)
    return lo <= SINGULAR_FACTOR * eps * size * hi


def _eig_core(values: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(np.asarray(values, dtype=np.float64))


def eigen_summary(kernels: xr.DataArray, dims: Sequence[str] = MATRIX_DIMS) -> xr.Dataset:
    """eig(K) ascending along "eig", lambda_min, lambda_max, cond = lambda_max / lambda_min (float64).

    Args:
        kernels: symmetric matrices over ``dims`` (any leading dims, e.g. draw, base_width), finite.
        dims: the row and column dims.

    Returns:
        Dataset with ``eigenvalues`` (..., eig), ``lambda_min``, ``lambda_max``, ``cond`` (inf where
        lambda_min <= 0, see :func:`condition_number`).
    """
    check_finite(kernels, "eigen_summary")
    values = np.asarray(kernels.transpose(..., *dims).values)
    asym = np.max(np.abs(values - np.swapaxes(values, -1, -2)), initial=0.0)
    if asym > SYMMETRY_RTOL * np.max(np.abs(values), initial=0.0):
        raise ValueError(f"eigen_summary: kernels are not symmetric (max |K - K^T| = {asym:.3g})")
    eig = xr.apply_ufunc(
        _eig_core,
        kernels,
        input_core_dims=[list(dims)],
        output_core_dims=[["eig"]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"eig": kernels.sizes[dims[0]]}},
    )
    lo, hi = eig.isel(eig=0, drop=True), eig.isel(eig=-1, drop=True)
    cond = xr.apply_ufunc(condition_number, lo, hi, dask="parallelized", output_dtypes=[np.float64])
    return xr.Dataset({"eigenvalues": eig, "lambda_min": lo, "lambda_max": hi, "cond": cond})


def _check_depths(depths: Sequence[int]) -> np.ndarray:
    d = np.asarray(depths)
    if d.ndim != 1 or d.size == 0 or not np.issubdtype(d.dtype, np.integer) or d.min() < 1:
        raise ValueError(f"limit_spectrum: depths must be a non-empty 1-d list of integers >= 1, got {depths!r}")
    return np.unique(d)


def inverse_cosine_errors(theta: np.ndarray, one_minus_rho: np.ndarray, delta: float) -> dict[str, np.ndarray]:
    """Relative errors of the plain and corrected inverse-cosine forms of Theta_l.   [SCIENCE §4]

    plain = C (1 - rho_l)^{-1/2} / Theta_l - 1 (signed, -> 1/(2l) > 0), corrected = |(C (1 - rho_l)^{-1/2}
    - 1/8) / Theta_l - 1| (o(1/l)).

    Args:
        theta, one_minus_rho: (depths, pairs) over distinct inputs x != x' (unit-norm convention).
        delta: Delta_phi (0 gives inf errors: no inverse-cosine form for a linear network).

    Returns:
        per depth: ``inv_cos_relerr_{max,median}`` (|plain|), ``inv_cos_relerr_plain_median`` (signed),
        ``inv_cos_relerr_corrected_{max,median}``.
    """
    names = ("max", "median", "plain_median", "corrected_max", "corrected_median")
    if delta == 0.0:
        return {f"inv_cos_relerr_{k}": np.full(theta.shape[0], np.inf) for k in names}
    with np.errstate(divide="ignore"):  # coincident inputs (1 - rho = 0): infinite error
        plain_form = inverse_cosine_constant(delta) / np.sqrt(one_minus_rho)
        plain = plain_form / theta - 1.0
        corrected = np.abs((plain_form - INV_COS_CORRECTION) / theta - 1.0)
    return {
        "inv_cos_relerr_max": np.abs(plain).max(axis=1),
        "inv_cos_relerr_median": np.median(np.abs(plain), axis=1),
        "inv_cos_relerr_plain_median": np.median(plain, axis=1),
        "inv_cos_relerr_corrected_max": corrected.max(axis=1),
        "inv_cos_relerr_corrected_median": np.median(corrected, axis=1),
    }


# (variable q, its l -> infinity limit and ln-l coefficient in PredictedLimits) of the residuals.
_RESIDUALS = (
    ("theta_offdiag_scaled_mean", "theta_offdiag_scaled", "theta_offdiag"),
    ("lambda_min_scaled", "lambda_min_scaled", "lambda_min"),
    ("lambda_max_scaled", "lambda_max_scaled", "lambda_max"),
    ("cond", "cond", "cond"),
)


def asymptotic_residuals(per_depth: dict[str, np.ndarray], depths: np.ndarray, pred: PredictedLimits) -> dict:
    """``<prefix>_residual`` = l (q - q_inf) - c ln l, which converges as l grows.   [SCIENCE §4]

    q is mean off-diagonal Theta_l / l, lambda_min n/l, lambda_max n/l or cond, c its ln-l coefficient
    (:class:`PredictedLimits`): theta_offdiag_residual -> mean kappa(Delta, rho_1), cond_residual -> D.
    """
    ls = depths.astype(np.float64)
    out = {}
    for var, limit, prefix in _RESIDUALS:
        coef = getattr(pred, f"{prefix}_log_coef")
        out[f"{prefix}_residual"] = ls * (per_depth[var] - getattr(pred, limit)) - coef * np.log(ls)
    return out


def limit_spectrum(
    x: np.ndarray,
    activation: Activation,
    depths: Sequence[int],
    output_dim: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Spectrum of K_inf = [(1/n) Theta_l(x_i, x_j) I_{m_l}] for each l in ``depths``, in one recursion.

    Args:
        x: (n, m_0) inputs, n >= 2; the predicted limits assume ||x||^2 = m_0 (then the input-norm
            factor ||x|| ||x'|| / m_0 is 1). Other norms scale K_inf entrywise as in ``limit_kernel``.
        activation: the (a,b)-ReLU; Delta = 0 warns, and its inverse-cosine columns are inf.
        depths: depths l >= 1 (sorted and deduplicated); one recursion runs to max(depths).
        output_dim: m_l; each eigenvalue of Theta_l / n appears m_l times.
        progress: called as progress(layer, max depth) during the recursion (long at depth 10^5).

    Returns:
        Dataset over "depth" (and "eig" for ``eigenvalues``), float64:
        ``eigenvalues``, ``lambda_min``, ``lambda_max``, ``cond``; ``lambda_min_scaled`` = lambda_min n / l,
        ``lambda_max_scaled`` = lambda_max n / l; ``theta_offdiag_scaled_{mean,min,max}`` = Theta_l / l over
        x != x' (unit-norm Theta); ``one_minus_rho_{min,max}`` over x != x'; the inverse-cosine errors
        over x != x' (:func:`inverse_cosine_errors`); ``<q>_residual`` (:func:`asymptotic_residuals`);
        ``pred_*`` the :func:`predicted_limits` (limits and ``*_log_coef``); scalar coords ``activation``
        (name) and ``delta``; attrs ``n_points``, ``output_dim``.
    """
    depths = _check_depths(depths)
    integer("output_dim", output_dim, where="limit_spectrum")
    activation.warn_if_linear()
    angle = input_angles(x)
    n = angle.shape[0]
    pred = predicted_limits(n)
    norms = np.linalg.norm(np.asarray(x, dtype=np.float64), axis=1)
    scale = np.outer(norms, norms) / x.shape[1] * dataset_scale(n)
    theta, gap = theta_at_depths(angle, activation.delta, depths, progress=progress)
    eig = np.repeat(np.linalg.eigvalsh(theta * scale), output_dim, axis=-1)
    off = ~np.eye(n, dtype=bool)
    theta_off, gap_off = theta[:, off], gap[:, off]
    scaled_off = theta_off / depths[:, None]
    per_depth = {
        "lambda_min": eig[:, 0],
        "lambda_max": eig[:, -1],
        "cond": condition_number(eig[:, 0], eig[:, -1]),
        "lambda_min_scaled": eig[:, 0] * n / depths,
        "lambda_max_scaled": eig[:, -1] * n / depths,
        "theta_offdiag_scaled_mean": scaled_off.mean(axis=1),
        "theta_offdiag_scaled_min": scaled_off.min(axis=1),
        "theta_offdiag_scaled_max": scaled_off.max(axis=1),
        "one_minus_rho_min": gap_off.min(axis=1),
        "one_minus_rho_max": gap_off.max(axis=1),
        **inverse_cosine_errors(theta_off, gap_off, activation.delta),
    }
    per_depth.update(asymptotic_residuals(per_depth, depths, pred))
    ds = xr.Dataset(
        {"eigenvalues": (("depth", "eig"), eig), **{k: ("depth", v) for k, v in per_depth.items()}},
        coords={"depth": depths, "activation": activation.name, "delta": activation.delta},
    )
    for field in dataclasses.fields(pred):
        ds[f"pred_{field.name}"] = getattr(pred, field.name)
    ds.attrs.update(n_points=n, output_dim=int(output_dim))
    return ds
