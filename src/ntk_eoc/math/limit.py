"""The infinite-width NTK of an EOC (a,b)-ReLU MLP.   [SCIENCE §3]

With rho_1 = x.x' / (||x|| ||x'||) and unit diagonals:

    f(rho)    = (1-Delta) rho + Delta (2/pi) (sqrt(1-rho^2) + rho arcsin rho)
    fdot(rho) = (1-Delta) + Delta (2/pi) arcsin rho
    rho_{k+1} = f(rho_k),   Theta_1 = rho_1,   Theta_{k+1} = rho_{k+1} + fdot(rho_k) Theta_k
    K_inf(x, x') = (||x|| ||x'|| / m_0) Theta_l(x, x') I_{m_l},   K_inf matrix = [(1/n) K_inf(x_i, x_j)]

Numerics. Deep networks drive rho_k -> 1, where 1 - rho carries all the information and
``arccos``/``sqrt(1 - rho^2)`` lose it. The recursion therefore runs on the angle
t_k = arccos rho_k in [0, pi] (SCIENCE §4 writes theta_l; here ``theta``/Theta is always the NTK),
carried as (sin t/2, cos t/2): with u = 1 - cos t = 2 sin^2(t/2) and s = sin t - t cos t (a series
below ``_SERIES_ANGLE``),

    1 - f = u - (2 Delta / pi) s,    fdot = 1 - (2 Delta / pi) t,
    sin(t_{k+1}/2) = sqrt((1 - f) / 2),

which keeps 1 - rho_l to full relative precision at any depth (10^4 and beyond), makes the
diagonal exactly Theta_l(x, x) = l, and keeps the matrix exactly symmetric.

Factorized layers (:mod:`architecture`, W_k = U_k V_k / sqrt(r_k)). In the regime where every width
m_k and every inner rank r_k tends to infinity (at any ratio r_k / m_k), (1/r_k) <V_k a, V_k a'> and
(1/r_k) <U_k^T delta, U_k^T delta'> converge to <a, a'> and <delta, delta'>, so the forward covariances
and the backward maps are those of the dense network, while each factor contributes what the dense
W_k would: K_{U_k} -> c_k^2 <a, a'> <delta, delta'> <- K_{V_k}. With mu_k = 2 for a factorized layer and
1 for a dense one:

    Theta_1 = mu_1 rho_1,   Theta_{k+1} = mu_{k+1} rho_{k+1} + fdot(rho_k) Theta_k,   Theta_l(x, x) = sum_k mu_k.

At a fixed rank the limit is not a Gaussian process (the covariance (1/r) <V a, V a'> stays random),
and no limit is claimed there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from ..validate import MAX_DEPTH, InvalidValue, flag, input_points, integer, row_norms
from .activations import Activation
from .layout import dataset_scale, expand_points

__all__ = [
    "LimitLayers",
    "correlation_map",
    "derivative_map",
    "half_angle_step",
    "input_angles",
    "limit_kernel",
    "limit_layers",
    "theta_at_depths",
]

_TWO_OVER_PI = 2.0 / np.pi
# Below this angle sin t - t cos t = t^3/3 - t^5/30 + ... loses digits to cancellation; the 4-term
# series has relative truncation error < t^8 / 4e5 < 1e-15 there.
_SERIES_ANGLE = 0.05
# Pairs whose cosine exceeds this get their angle from ||xhat - xhat'|| instead of arccos(rho),
# which would lose half the digits of small angles.
_CLOSE_COSINE = 0.5
# Layers between two progress calls of theta_at_depths.
PROGRESS_EVERY = 5000
# Row block of the n x n recursion: bounds temporaries to ~ 8 arrays of _BLOCK_ENTRIES float64.
_BLOCK_ENTRIES = 2**21
# The largest per-layer record return_layers builds (3 l n^2 float64).
MAX_LAYERS_BYTES = 8 * 2**30


def correlation_map(rho: np.ndarray, delta: float) -> np.ndarray:
    """f(rho) = (1-Delta) rho + Delta (2/pi) (sqrt(1-rho^2) + rho arcsin rho), in the rho form of SCIENCE §3.

    Reference for tests: SCIENCE §3 (the library runs on the half angle, :func:`half_angle_step`)."""
    rho = np.clip(rho, -1.0, 1.0)
    return (1.0 - delta) * rho + delta * _TWO_OVER_PI * (np.sqrt(1.0 - rho**2) + rho * np.arcsin(rho))


def derivative_map(rho: np.ndarray, delta: float) -> np.ndarray:
    """fdot(rho) = f'(rho) = (1-Delta) + Delta (2/pi) arcsin rho.

    Reference for tests: SCIENCE §3 (the library runs on the half angle, :func:`half_angle_step`)."""
    return (1.0 - delta) + delta * _TWO_OVER_PI * np.arcsin(np.clip(rho, -1.0, 1.0))


def _sin_minus_t_cos(t: np.ndarray, sin_t: np.ndarray, cos_t: np.ndarray) -> np.ndarray:
    """s(t) = sin t - t cos t, by the series t^3/3 - t^5/30 + t^7/840 - t^9/45360 for small t."""
    t2 = t * t
    series = t * t2 * (1.0 / 3.0 - t2 * (1.0 / 30.0 - t2 * (1.0 / 840.0 - t2 / 45360.0)))
    return np.where(t < _SERIES_ANGLE, series, sin_t - t * cos_t)


def half_angle_step(
    sin_half: np.ndarray, cos_half: np.ndarray, delta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One layer of the recursion on the state (sin t_k/2, cos t_k/2), t_k = arccos rho_k, one arctan2:

        t = 2 atan2(sin, cos),  u = 1 - rho_k = 2 sin^2,  1 - rho_{k+1} = u - (2 Delta/pi) s(t),
        fdot(rho_k) = 1 - (2 Delta/pi) t,  sin t_{k+1}/2 = sqrt((1 - rho_{k+1}) / 2).

    Returns:
        (sin t_{k+1}/2, cos t_{k+1}/2, 1 - rho_{k+1}, fdot(rho_k)), each of the input shape.
    """
    angle = 2.0 * np.arctan2(sin_half, cos_half)
    u = 2.0 * sin_half * sin_half
    s = _sin_minus_t_cos(angle, 2.0 * sin_half * cos_half, 1.0 - u)
    one_minus_f = np.clip(u - delta * _TWO_OVER_PI * s, 0.0, 2.0)
    fdot = 1.0 - delta * _TWO_OVER_PI * angle
    return np.sqrt(0.5 * one_minus_f), np.sqrt(1.0 - 0.5 * one_minus_f), one_minus_f, fdot


def _validate_inputs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = input_points("X", x, "limit_kernel", np.float64, allow_zero_rows=False)
    return x, row_norms(x)


def input_angles(x: np.ndarray) -> np.ndarray:
    """t_1[i, j] = angle between x_i and x_j in [0, pi]; exactly 0 on the diagonal and symmetric.

    Close pairs (cosine > ``_CLOSE_COSINE``) use 2 arcsin(||xhat_i - xhat_j|| / 2), exact to
    rounding; the rest arccos of the cosine.
    """
    x, norms = _validate_inputs(x)
    xhat = x / norms[:, None]
    cos = xhat @ xhat.T
    cos = 0.5 * (cos + cos.T)
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    close_i, close_j = np.nonzero(np.triu(cos > _CLOSE_COSINE, k=1))
    del cos
    pairs = max(1, _BLOCK_ENTRIES // x.shape[1])
    for start in range(0, close_i.size, pairs):
        i, j = close_i[start : start + pairs], close_j[start : start + pairs]
        chord = np.linalg.norm(xhat[i] - xhat[j], axis=1)
        angle[i, j] = 2.0 * np.arcsin(np.minimum(0.5 * chord, 1.0))
    iu = np.triu_indices(x.shape[0], k=1)
    angle.T[iu] = angle[iu]
    np.fill_diagonal(angle, 0.0)
    return angle


@dataclass(frozen=True)
class LimitLayers:
    """Per-layer quantities of the limit, all float64, each (depth, n, n) unless stated.

    Attributes:
        rho: correlations rho_k(x_i, x_j) (cosines, unit-norm convention), k = 1..l.
        one_minus_rho: 1 - rho_k to full relative precision.
        theta: NTK Theta_k(x_i, x_j) of the depth-k network, scaled by ||x_i|| ||x_j|| / m_0.
        nngp: (n, n) output covariance E[N(x_i) N(x_j)] = (||x_i|| ||x_j|| / m_0) rho_l.
        ntk: (n m_l, n m_l) K_inf matrix, 1/n included.
    """

    rho: np.ndarray
    one_minus_rho: np.ndarray
    theta: np.ndarray
    nngp: np.ndarray
    ntk: np.ndarray


def theta_at_depths(
    angle: np.ndarray,
    delta: float,
    depths: Sequence[int],
    multiplicity: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Theta_k and 1 - rho_k (unit-norm convention) at each k of the sorted ``depths``, in one
    recursion to max(depths): Theta_1 = mu_1 rho_1, Theta_{k+1} = mu_{k+1} rho_{k+1} + fdot(rho_k) Theta_k.

    Args:
        angle: t_1 = angle between inputs (:func:`input_angles`), any shape.
        delta: Delta_phi.
        depths: increasing depths >= 1.
        multiplicity: mu_k for k = 1..max(depths) (2 for a factorized layer); None: all 1.
        progress: called as progress(k, max(depths)) every :data:`PROGRESS_EVERY` layers.

    Returns:
        (Theta, 1 - rho), each of shape (len(depths), *angle.shape).
    """
    sin_half, cos_half = np.sin(0.5 * angle), np.cos(0.5 * angle)
    one_minus_rho = 2.0 * sin_half * sin_half
    wanted = set(int(d) for d in depths)
    mu = [1] * max(wanted) if multiplicity is None else [int(m) for m in multiplicity]
    theta = mu[0] * (1.0 - one_minus_rho)
    thetas, gaps = [], []
    for k in range(1, max(wanted) + 1):
        if k > 1:
            sin_half, cos_half, one_minus_rho, fdot = half_angle_step(sin_half, cos_half, delta)
            theta *= fdot
            theta += mu[k - 1] * (1.0 - one_minus_rho)
        if k in wanted:
            thetas.append(theta.copy())
            gaps.append(one_minus_rho)
        if progress is not None and k % PROGRESS_EVERY == 0:
            progress(k, max(wanted))
    return np.stack(thetas), np.stack(gaps)


def limit_kernel(
    x: np.ndarray,
    activation: Activation,
    depth: int,
    output_dim: int = 1,
    return_layers: bool = False,
    factorized: Sequence[bool] | None = None,
) -> np.ndarray | LimitLayers:
    """K_inf = [(1/n) (||x_i|| ||x_j|| / m_0) Theta_l(x_i, x_j) I_{m_l}], float64.   [SCIENCE §3]

    Args:
        x: (n, m_0) inputs, any nonzero norms (the convention is ||x||^2 = m_0).
        activation: the (a,b)-ReLU; Delta_phi = 0 (linear network) warns.
        depth: l >= 1.
        output_dim: m_l >= 1.
        return_layers: also return rho_k, 1 - rho_k, Theta_k for k = 1..l and the NNGP
            (memory 3 l n^2 float64); otherwise only the matrix, computed in row blocks.
        factorized: per layer, True for a factorized layer U_k V_k (mu_k = 2, module doc); None: dense.

    Returns:
        the (n m_l, n m_l) matrix, or :class:`LimitLayers`.

    Example:
        >>> import numpy as np
        >>> k = limit_kernel(np.eye(3) * np.sqrt(3), Activation.named("relu"), depth=5)
        >>> np.diag(k) * 3   # Theta_l(x, x) = l
        array([5., 5., 5.])
    """
    integer("depth", depth, maximum=MAX_DEPTH, where="limit_kernel")
    integer("output_dim", output_dim, where="limit_kernel")
    flag("return_layers", return_layers, "limit_kernel")
    if not isinstance(activation, Activation):
        raise TypeError(
            f"limit_kernel: the limit is implemented for the (a,b)-ReLU family only, got activation "
            f"{getattr(activation, 'name', activation)!r}"
        )
    mu = _multiplicity(factorized, depth)
    activation.warn_if_linear()
    x, norms = _validate_inputs(x)
    n, in_dim = x.shape
    if return_layers and 3 * depth * n * n * 8 > MAX_LAYERS_BYTES:
        raise InvalidValue(
            "depth", depth, f"return_layers keeps 3 l n^2 float64 = {3 * depth * n * n * 8 / 2**30:.1f} GiB for "
            f"n={n}, over {MAX_LAYERS_BYTES / 2**30:.0f} GiB; ask for the matrix alone", "limit_kernel",
        )  # fmt: skip
    angle1 = input_angles(x)
    scale = np.outer(norms, norms) / in_dim
    if return_layers:
        theta_all, one_minus_rho = theta_at_depths(angle1, activation.delta, range(1, depth + 1), mu)
        theta_all *= scale
        rho = 1.0 - one_minus_rho
        ntk = expand_points(theta_all[-1] * dataset_scale(n), output_dim)
        return LimitLayers(rho, one_minus_rho, theta_all, rho[-1] * scale, _with_identity(ntk, output_dim))
    theta = np.empty((n, n))
    rows = max(1, _BLOCK_ENTRIES // n)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        theta[start:stop, start:] = theta_at_depths(angle1[start:stop, start:], activation.delta, [depth], mu)[0][0]
    iu = np.triu_indices(n, k=1)
    theta.T[iu] = theta[iu]
    theta *= scale
    theta *= dataset_scale(n)
    return _with_identity(expand_points(theta, output_dim), output_dim)


def limit_layers(
    x: np.ndarray, activation: Activation, depth: int, output_dim: int = 1, factorized: Sequence[bool] | None = None
) -> LimitLayers:
    """:func:`limit_kernel` with ``return_layers=True``."""
    return cast(LimitLayers, limit_kernel(x, activation, depth, output_dim, return_layers=True, factorized=factorized))


def _multiplicity(factorized: Sequence[bool] | None, depth: int) -> list[int]:
    """mu_k = 2 for a factorized layer, 1 for a dense one."""
    if factorized is None:
        return [1] * depth
    flags = list(factorized)
    if len(flags) != depth or not all(isinstance(f, (bool, np.bool_)) for f in flags):
        raise ValueError(f"limit_kernel: factorized must list {depth} booleans (one per layer), got {factorized!r}")
    return [2 if f else 1 for f in flags]


def _with_identity(expanded: np.ndarray, output_dim: int) -> np.ndarray:
    """Zero the off-diagonal output pairs: kron(G, 1) -> kron(G, I_{m_l})."""
    if output_dim == 1:
        return expanded
    same_output = np.equal.outer(np.arange(expanded.shape[0]) % output_dim, np.arange(expanded.shape[0]) % output_dim)
    return np.where(same_output, expanded, 0.0)
