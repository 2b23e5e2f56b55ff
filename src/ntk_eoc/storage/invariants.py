"""Cheap physical invariants of what the stages read, each failure naming the input store.   [SCIENCE §2-3]

:func:`check_kernel` checks NTK matrices K over (..., i, j), the matrix [(1/n) K_theta(x_p, x_q)]:

- finite;
- symmetric: max|K - K^T| <= :data:`SYMMETRY_ULPS` eps(dtype) max|K| per matrix. The samplers and the
  limit recursion produce exactly symmetric matrices (measured: 0 in float32 and float64); the margin
  covers any summation order (a float32 sum of a few terms is symmetric to ~10 ulp) and is below the
  1e-4 of :mod:`ntk_eoc.analysis.stats`, so nothing the analysis accepts is refused here;
- diagonal: K_ii = (1/n) ||d f_o(x_p) / d theta||^2 >= 0, a sum of squares, exactly non-negative for
  every draw (checked to the same rounding tolerance). A draw's K_ii can be 0 or tiny (every unit of
  a narrow ReLU layer inactive at x_p: probability ~2^-m per layer; 1e-34 measured at m = 8), so no
  positive lower bound is applied to sampled kernels. ``positive=True`` (limit kernels) requires
  K_ii > 0, which holds deterministically for x != 0 (for the (a,b)-ReLU at the EOC the limit diagonal
  is (||x_p||^2 / m_0) sum_k mu_k / n, i.e. l/n for dense layers on the sphere).
- with ``reference`` (the limit diagonal Theta_l(x_p, x_p) / n, = l/n at the EOC with ||x||^2 = m_0):
  every K_ii <= :data:`DIAG_MAX_RATIO` reference_i, and, over :data:`MEAN_MIN_MATRICES` or more
  matrices, the mean of K_ii / reference_i within [1 / DIAG_MAX_RATIO, DIAG_MAX_RATIO]. No upper
  bound is certain for a random draw: K_ii / reference is a positive variable with mean ~1 (measured
  0.93-1.04 over 512 draws of relu, abs and a = 0.9 networks at depth 4-8, width 8), so Markov's
  inequality alone bounds the chance that a valid entry exceeds 1e6 times its reference by 1e-6, and
  its log-normal tail (log-variance ~5 l/m, Hanin & Nica 2019, arXiv:1909.05989; l/m <= 1 in every
  configured experiment) puts it below 1e-9; the largest ratio measured was 254 (relu, depth 8, width
  8). No per-entry lower bound exists (whole draws can be dead: a per-draw median of 0 was measured at
  depth 6, width 8), but the mean over 16 or more draws falls below 1e-6 only if nearly every draw is
  dead. What these bounds catch are gross errors that checksums cannot see (a writer bug, memory
  damage before the checksum was taken): exponent flips and garbage give 1e8- to 1e38-fold values,
  a byte-order swap of float32 values of order 1 gives ~1e-40, a zeroed array gives 0.

Failures raise :class:`StoreInvalid` (a :class:`~.integrity.StoreError`):
``store results/stores/samples/.../draws_0-128.zarr: variable 'K' at {'base_width': 0, 'draw': 17}: not symmetric ...``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from ..validate import NonFinite, check_finite, finite_array
from .integrity import StoreError

__all__ = [
    "DIAG_MAX_RATIO",
    "MEAN_MIN_MATRICES",
    "SYMMETRY_ULPS",
    "StoreInvalid",
    "check_finite_store",
    "check_kernel",
]

# Asymmetry allowed, in units of eps(dtype) x max|K| (module docstring): float32 1.5e-5, float64 2.8e-14.
SYMMETRY_ULPS = 128
# K_ii may not exceed this multiple of the reference diagonal (module docstring for the bound).
DIAG_MAX_RATIO = 1e6
# The mean of K_ii / reference is checked over at least this many matrices (draws): fewer may all be dead.
MEAN_MIN_MATRICES = 16


class StoreInvalid(StoreError):
    """A store's values break a physical invariant (the message names the store and where)."""


def check_finite_store(ds: xr.Dataset | xr.DataArray, store: str | os.PathLike[str]) -> None:
    """StoreInvalid naming ``store``, the variable and the first index if a floating value is NaN or inf."""
    try:
        check_finite(ds, where=f"store {store}")
    except NonFinite as err:
        raise StoreInvalid(str(err)) from None


def _at(index: int, lead: tuple[int, ...], dims: Sequence[str]) -> str:
    if not lead:
        return ""
    position = (int(k) for k in np.unravel_index(index, lead))
    return " at " + str(dict(zip(dims, position, strict=True)))


def _reference(reference: np.ndarray | float, size: int, where: str) -> np.ndarray:
    ref = np.broadcast_to(np.asarray(reference, dtype=np.float64), (size,))
    if not (np.isfinite(ref).all() and (ref > 0).all()):
        raise ValueError(f"{where}: reference diagonal must be finite and > 0, got {ref}")
    return ref


def _check_symmetric(flat: np.ndarray, tol: np.ndarray, where: str, at: Callable[[int], str]) -> None:
    asym = np.abs(flat - flat.transpose(0, 2, 1)).max(axis=(1, 2))
    if (bad := np.flatnonzero(asym > tol)).size:
        k = int(bad[0])
        raise StoreInvalid(
            f"{where}{at(k)}: not symmetric (max|K - K^T| = {asym[k]:.3g} > {SYMMETRY_ULPS} eps max|K| = "
            f"{tol[k]:.3g}; {bad.size} matrices of {flat.shape[0]})"
        )


def _check_diagonal(diag: np.ndarray, tol: np.ndarray, positive: bool, where: str, at: Callable[[int], str]) -> None:
    low = diag <= 0 if positive else diag < -tol[:, None]
    if low.any():
        k, i = (int(v) for v in np.argwhere(low)[0])
        raise StoreInvalid(
            f"{where}{at(k)}: diagonal K[{i}, {i}] = {diag[k, i]:.6g}, must be {'>' if positive else '>='} 0"
        )


def _check_scale(diag: np.ndarray, ref: np.ndarray, where: str, at: Callable[[int], str]) -> None:
    high = diag > DIAG_MAX_RATIO * ref
    if high.any():
        k, i = (int(v) for v in np.argwhere(high)[0])
        raise StoreInvalid(
            f"{where}{at(k)}: diagonal K[{i}, {i}] = {diag[k, i]:.6g} exceeds {DIAG_MAX_RATIO:g} x its reference "
            f"{ref[i]:.6g} (corrupt values?)"
        )
    mean = float(np.mean(diag / ref))
    if diag.shape[0] >= MEAN_MIN_MATRICES and not 1.0 / DIAG_MAX_RATIO <= mean <= DIAG_MAX_RATIO:
        raise StoreInvalid(
            f"{where}: mean diagonal / reference over {diag.shape[0]} matrices is {mean:.3g}, outside "
            f"[{1.0 / DIAG_MAX_RATIO:g}, {DIAG_MAX_RATIO:g}] (valid draws give ~1; corrupt values?)"
        )


def check_kernel(
    kernel: xr.DataArray | np.ndarray,
    store: str | os.PathLike[str],
    *,
    name: str = "K",
    reference: np.ndarray | float | None = None,
    positive: bool = False,
) -> None:
    """Check NTK matrices over the last two axes: finite, symmetric, diagonal >= 0 (> 0 if
    ``positive``) and of the order of ``reference`` if given (module docstring for every bound).

    Args:
        kernel: (..., N, N) matrices; a DataArray names its leading dims in messages. Loaded whole:
            pass one base width of a large sample store at a time.
        store: the store the kernel was read from, named in every message.
        name: the variable name, for messages.
        reference: (N,) or scalar expected diagonal, e.g. ``np.diag(K_inf)``.
        positive: require K_ii > 0 (limit kernels).

    Raises:
        StoreInvalid: an invariant is broken; ValueError: bad shape, dtype or reference.
    """
    where = f"store {store}: variable {name!r}"
    dims = list(kernel.dims[:-2]) if isinstance(kernel, xr.DataArray) else []
    try:
        values = finite_array(name, kernel.values if isinstance(kernel, xr.DataArray) else kernel)
    except NonFinite as err:
        raise StoreInvalid(f"store {store}: {err}") from None
    if values.ndim < 2 or values.shape[-1] != values.shape[-2] or not np.issubdtype(values.dtype, np.floating):
        raise ValueError(f"{where}: expected floating (..., N, N) matrices, got {values.dtype} {values.shape}")
    lead, size = values.shape[:-2], values.shape[-1]
    flat = values.reshape(-1, size, size)
    tol = SYMMETRY_ULPS * float(np.finfo(values.dtype).eps) * np.abs(flat).max(axis=(1, 2))

    def at(k: int) -> str:
        return _at(k, lead, dims)

    _check_symmetric(flat, tol, where, at)
    diag = np.diagonal(flat, axis1=1, axis2=2).astype(np.float64)
    _check_diagonal(diag, tol, positive, where, at)
    if reference is not None:
        _check_scale(diag, _reference(reference, size, where), where, at)
