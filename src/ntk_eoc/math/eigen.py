"""Extreme eigenvalues of symmetric PSD NTK matrices (N up to a few thousand), exact to rounding.

lambda_min(K) is computed in float64 by LAPACK: the Householder tridiagonal reduction (dsytrd,
(4/3) N^3 flops, the whole cost) followed by the eigenvalues of the tridiagonal matrix (O(N^2)).
Eigenvectors are never formed; ``benchmarks/bench_min_eigen.py`` compares the LAPACK routes
(numpy eigh / eigvalsh, scipy evr / evx / evd / ev) and ``benchmarks/README.md`` has its table.
Every route returns lambda_min to within ~ eps N lambda_max (backward stability of the reduction),
so an eigenvalue below that is indistinguishable from 0.

Layer blocks. The NTK is a sum over layers, K = sum_k K_k, where K_k is the NTK of the parameters of
layer k alone (``sample_kernels(..., per_layer=True)``); :func:`block_spectra` gives the extreme
eigenvalues of K ("full") and of each K_k ("layer_k").

Rank bound. A layer block K_k = Phi_k Phi_k^T (Phi_k: N x P_k, P_k its parameter count) has
rank <= P_k, and the full NTK has rank <= P = sum_k P_k. When N > P, lambda_min = 0 exactly:
:func:`rank_bound_zero` says so, and the solver should be skipped, since a float computation
returns rounding noise of size ~ eps N lambda_max (of either sign) instead of 0.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import scipy.linalg

from ..validate import integer
from .architecture import Architecture

__all__ = [
    "DENSE_MAX_N",
    "SYMMETRY_RTOL",
    "block_names",
    "block_params",
    "block_spectra",
    "extreme_eigenvalues",
    "largest_eigenvalue",
    "min_eigenvalue",
    "rank_bound_zero",
]

# Relative asymmetry max|K - K^T| / max|K| accepted (and removed by symmetrising). Kernels summed
# in float32 are symmetric to ~10 ulp (~1e-6); a genuinely non-symmetric input is far above this.
SYMMETRY_RTOL = 1e-5
# Up to this size lambda_max alone is computed densely (LAPACK); above it by Lanczos (ARPACK).
DENSE_MAX_N = 256
# Relative tolerance of the Lanczos lambda_max (the top eigenvalue of an NTK is well separated).
LANCZOS_TOL = 1e-12


def _symmetric_float64(kernel: np.ndarray, sym_rtol: float, caller: str) -> np.ndarray:
    """(K + K^T) / 2 as a new float64 (Fortran-ordered) array, after checking K is a finite, square,
    symmetric matrix. Costs ~10 passes over N^2 entries: ~5-10% of the (4/3) N^3 solve at N >= 1000."""
    k = np.asarray(kernel)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] == 0:
        raise ValueError(f"{caller}: kernel must be a non-empty square matrix, got shape {k.shape}")
    if not np.issubdtype(k.dtype, np.floating) and not np.issubdtype(k.dtype, np.integer):
        raise ValueError(f"{caller}: kernel must be real, got dtype {k.dtype}")
    k = k.astype(np.float64)
    finite = np.isfinite(k)
    if not finite.all():
        raise ValueError(
            f"{caller}: kernel contains {int(k.size - finite.sum())} NaN or inf entries of {k.size} "
            "(no NaN reaches a statistic silently)"
        )
    scale = max(float(k.max()), -float(k.min()))
    diff = k - k.T
    asym = max(float(diff.max()), -float(diff.min()))
    if asym > sym_rtol * scale:
        raise ValueError(
            f"{caller}: kernel is not symmetric: max|K - K^T| = {asym:.3g} > {sym_rtol:g} * max|K| "
            f"= {sym_rtol * scale:.3g} (relative asymmetry {asym / scale:.3g})"
        )
    k += k.T
    k *= 0.5
    # A symmetric C-ordered matrix is its own transpose: k.T is the Fortran-ordered array LAPACK
    # wants, so scipy (overwrite_a=True) works on this buffer without another copy.
    return k.T


def min_eigenvalue(kernel: np.ndarray, *, sym_rtol: float = SYMMETRY_RTOL) -> float:
    """lambda_min of a symmetric matrix, in float64, exact to rounding (~ eps N lambda_max).

    The input is upcast to float64 and symmetrised ((K + K^T) / 2) after the checks below;
    scipy.linalg.eigh(eigvals_only=True, subset_by_index=[0, 0], driver="evr") then computes the
    smallest eigenvalue only (LAPACK dsyevr, no eigenvectors).

    Raises:
        ValueError: not a non-empty square real matrix; NaN or inf entries; max|K - K^T| larger than
            ``sym_rtol`` * max|K| (the message gives the asymmetry).
    """
    k = _symmetric_float64(kernel, sym_rtol, "min_eigenvalue")
    values = scipy.linalg.eigh(
        k, eigvals_only=True, subset_by_index=[0, 0], driver="evr", overwrite_a=True, check_finite=False
    )
    return float(values[0])


def extreme_eigenvalues(kernel: np.ndarray, *, sym_rtol: float = SYMMETRY_RTOL) -> tuple[float, float]:
    """(lambda_min, lambda_max) of a symmetric matrix, in float64, exact to rounding.

    One values-only call, scipy.linalg.eigh(eigvals_only=True, driver="evr"): the tridiagonal
    reduction is the whole cost and is shared by both ends, so this costs one :func:`min_eigenvalue`
    (two subset calls would reduce twice). Same checks and errors as :func:`min_eigenvalue`.
    """
    k = _symmetric_float64(kernel, sym_rtol, "extreme_eigenvalues")
    values = scipy.linalg.eigh(k, eigvals_only=True, driver="evr", overwrite_a=True, check_finite=False)
    return float(values[0]), float(values[-1])


def largest_eigenvalue(kernel: np.ndarray, *, sym_rtol: float = SYMMETRY_RTOL) -> float:
    """lambda_max of a symmetric PSD matrix, without the O(N^3) reduction when N > :data:`DENSE_MAX_N`:
    Lanczos (scipy.sparse.linalg.eigsh, O(N^2) per iteration, deterministic start vector), densely
    below. For blocks whose lambda_min is known (:func:`rank_bound_zero`). Same checks as
    :func:`min_eigenvalue`."""
    import scipy.sparse.linalg

    k = _symmetric_float64(kernel, sym_rtol, "largest_eigenvalue")
    n = k.shape[0]
    if n <= DENSE_MAX_N:
        return float(scipy.linalg.eigh(k, eigvals_only=True, subset_by_index=[n - 1, n - 1], driver="evr")[0])
    v0 = np.ones(n) / np.sqrt(n)  # the result does not depend on a global RNG
    return float(scipy.sparse.linalg.eigsh(k, k=1, which="LA", tol=LANCZOS_TOL, v0=v0, return_eigenvectors=False)[0])


def rank_bound_zero(n: int, n_params: int) -> bool:
    """True when n > n_params: then rank(Phi Phi^T) <= n_params < n and lambda_min = 0 exactly.

    Phi is the n x n_params Jacobian (of one layer block, or of the whole network with n_params = P).
    Callers skip the eigenvalue solver in that case and record 0: a float computation would return
    rounding noise ~ eps n lambda_max (either sign) instead of 0.

    Raises:
        ValueError: n < 1 or n_params < 0, or either is not an integer.
    """
    return integer("n", n, 1, where="rank_bound_zero") > integer("n_params", n_params, 0, where="rank_bound_zero")


def block_names(depth: int) -> list[str]:
    """``["full", "layer_1", ..., "layer_l"]``."""
    return ["full", *(f"layer_{k}" for k in range(1, depth + 1))]


def block_params(arch: Architecture) -> list[int]:
    """P per block: the network's parameter count, then each layer's (:class:`Architecture`)."""
    return [arch.n_params, *arch.layer_params()]


def block_spectra(layers: np.ndarray, params: Sequence[int]) -> tuple[np.ndarray, np.ndarray, float]:
    """(lambda_min, lambda_max, solver seconds) of K = sum_k K_k and of each K_k, in block order.

    Args:
        layers: (l, N, N) per-layer kernels of one draw.
        params: P per block (:func:`block_params`), l + 1 entries.
    """
    n = layers.shape[-1]
    matrices = [layers.sum(axis=0), *layers]
    low, high = np.zeros(len(matrices)), np.zeros(len(matrices))
    began = time.perf_counter()
    for b, (matrix, p) in enumerate(zip(matrices, params, strict=True)):
        if rank_bound_zero(n, int(p)):
            low[b], high[b] = 0.0, largest_eigenvalue(matrix)
        else:
            low[b], high[b] = extreme_eigenvalues(matrix)
    return low, high, time.perf_counter() - began
