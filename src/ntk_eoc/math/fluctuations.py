"""The finite-width fluctuation laws of the NTK diagonal: the first-order product form and the
independent-layer sum.   [SCIENCE §6]

For an input on the sphere (||x||^2 = m_0) and a depth-l EOC (a,b)-ReLU network with hidden widths
m_1..m_{l-1}, a diagonal entry of K(theta) has, with t = k/l,

    V_diag = Var(K_ii) / E[K_ii]^2  ~=  prod_{k=1}^{l-1} (1 + w(k/l) / m_k) - 1,
    w(t)   = C ((1-t)^2 + t^2) + 2 C' t (1-t),   C = 2 + 12 Delta (1-Delta),   C' = 4 Delta (1-Delta)

(ReLU: C = 5, C' = 1; abs: C = 2, C' = 0), and E[K_ii] = l (times 1/n in the matrix). The product form
is first order: its error is O(sum_k 1/m_k^2). Asymptotic forms, with beta = sum_k 1/m_k:

- quadratic m_k = k^2 m: V_diag -> sinh(pi sqrt(C/m)) / (pi sqrt(C/m)) - 1 ~ C pi^2 / (6m) as l grows;
- constant m_k = m:      V_diag ~ (2C + C') beta / 3 for beta << 1 (not to be exponentiated);
- linear m_k = k m:      V_diag ~ C ln(l) / m.

Beyond first order, K_ii = sum_{k=1}^{l} X_k (forward norm up to layer k-1 times backward norm from
layer k), and if the hidden layers acted independently every order would give the independent-layer sum

    V_dsum = (1/l^2) sum_{k,k'=1}^{l} prod_{j=1}^{l-1} (1 + c_j(k,k') / m_j) - 1,
    c_j(k,k') = C' if min(k,k') <= j < max(k,k') (layer j between the two terms), else C,

whose first-order expansion is the product form. For constant widths 1 + V_dsum ~ e^{C beta}
2(u - 1 + e^{-u}) / u^2, u = (C - C') beta: log(1 + V) / beta rises from (2C + C')/3 to C (= 5 for ReLU,
the rate e^{5 beta} of Hanin and Nica, whose form is 1.5-2.2x too high at beta = 0.1-0.5).

Example values: ReLU, widths 8 k^2, l = 9: 0.898; ReLU, constant width 32, l = 9: 1.302 (product form);
ReLU, constant width 64, l = 32: 4.51 (product form), 4.98 (V_dsum), 10.27 (e^{5 beta} - 1).

The whole kernel (every entry, their covariances, the 1/m mean shift and the predicted law of
||K - K_inf||) is the first-order model of :mod:`ntk_eoc.math.first_order` (SCIENCE §6.1), re-exported here:
:func:`first_order_kernel`, :func:`predicted_deviations`, and :func:`relative_variance_dsum` (the
independent-layer sum for every entry).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..validate import integer, integer_list, real
from .activations import Activation
from .first_order import FirstOrderKernel, first_order_kernel, predicted_deviations, relative_variance_dsum

__all__ = [
    "FirstOrderKernel",
    "beta",
    "first_order_kernel",
    "fluctuation_constants",
    "fluctuation_weight",
    "hanin_nica",
    "predicted_deviations",
    "relative_variance_dsum",
    "v_diag",
    "v_diag_quadratic_limit",
    "v_dsum",
    "v_dsum_constant_asymptotic",
]

# Rows of the (l, l) pair matrix of v_dsum evaluated at once: 2^20 float64 per block, any depth.
_DSUM_BLOCK = 2**20


def fluctuation_constants(activation: Activation) -> tuple[float, float]:
    """(C, C') = (2 + 12 Delta (1-Delta), 4 Delta (1-Delta)).   [SCIENCE §6]"""
    d = activation.delta
    return 2.0 + 12.0 * d * (1.0 - d), 4.0 * d * (1.0 - d)


def fluctuation_weight(t: np.ndarray | float, activation: Activation) -> np.ndarray:
    """w(t) = C ((1-t)^2 + t^2) + 2 C' t (1-t), t = k/l in [0, 1].   [SCIENCE §6]"""
    c, c_prime = fluctuation_constants(activation)
    t = np.asarray(t, dtype=np.float64)
    return c * ((1.0 - t) ** 2 + t**2) + 2.0 * c_prime * t * (1.0 - t)


def _hidden(hidden_widths: Sequence[int], where: str) -> np.ndarray:
    if len(hidden_widths) == 0:
        return np.zeros(0)
    return np.asarray(integer_list("hidden_widths", list(hidden_widths), where=where), dtype=np.float64)


def v_diag(activation: Activation, hidden_widths: Sequence[int]) -> float:
    """prod_{k=1}^{l-1} (1 + w(k/l) / m_k) - 1, l = len(hidden_widths) + 1.   [SCIENCE §6]

    Args:
        activation: the (a,b)-ReLU (only Delta enters).
        hidden_widths: m_1..m_{l-1} (e.g. ``widths(...)[1:-1]``); empty for l = 1 (V_diag = 0: K is
            deterministic on the sphere).
    """
    m = _hidden(hidden_widths, "v_diag")
    depth = m.size + 1
    t = np.arange(1, depth) / depth
    return float(np.expm1(np.sum(np.log1p(fluctuation_weight(t, activation) / m))))


def beta(hidden_widths: Sequence[int]) -> float:
    """beta = sum_{k=1}^{l-1} 1/m_k, Hanin and Nica's depth-to-width ratio.   [SCIENCE §6]"""
    return float(np.sum(1.0 / _hidden(hidden_widths, "beta")))


def _base(base_width: float, where: str) -> float:
    return real("base_width", base_width, positive=True, where=where)


def v_diag_quadratic_limit(activation: Activation, base_width: float) -> float:
    """l -> infinity limit for m_k = k^2 m: sinh(pi a) / (pi a) - 1, a = sqrt(C/m).   [SCIENCE §6]

    From prod_k (1 + C / (k^2 m)) = sinh(pi a) / (pi a); about C pi^2 / (6m) for large m.
    """
    a = math.pi * math.sqrt(fluctuation_constants(activation)[0] / _base(base_width, "v_diag_quadratic_limit"))
    return math.sinh(a) / a - 1.0


def v_dsum(activation: Activation, hidden_widths: Sequence[int]) -> float:
    """(1/l^2) sum_{k,k'} prod_{j=1}^{l-1} (1 + c_j(k,k') / m_j) - 1, c_j = C' between the terms, else C.

    [SCIENCE §6] With A_j = log(1 + C/m_j), D_j = log(1 + C'/m_j) - A_j <= 0 and T_k = sum_{j<k} D_j, the
    log of the product is sum_j A_j - |T_k - T_k'|; the mean of expm1 over the l^2 pairs keeps small V exact.

    Args:
        activation: the (a,b)-ReLU (only Delta enters); hidden_widths: m_1..m_{l-1}, as for :func:`v_diag`.
    """
    m = _hidden(hidden_widths, "v_dsum")
    c, c_prime = fluctuation_constants(activation)
    a = np.log1p(c / m)
    t = np.concatenate([[0.0], np.cumsum(np.log1p(c_prime / m) - a)])  # T_1..T_l
    total, block = 0.0, max(1, _DSUM_BLOCK // t.size)
    for start in range(0, t.size, block):
        rows = t[start : start + block, None]
        total += float(np.sum(np.expm1(a.sum() - np.abs(rows - t[None, :]))))
    return total / t.size**2


def v_dsum_constant_asymptotic(activation: Activation, base_width: float, depth: int) -> float:
    """e^{C beta} 2(u - 1 + e^{-u}) / u^2 - 1, beta = (l-1)/m, u = (C - C') beta: :func:`v_dsum` for m_k = m
    with the sums over layers as integrals (error O(1/l) + O(C^2 beta/m)).   [SCIENCE §6]"""
    c, c_prime = fluctuation_constants(activation)
    depth = integer("depth", depth, where="v_dsum_constant_asymptotic")
    b = (depth - 1) / _base(base_width, "v_dsum_constant_asymptotic")
    u = (c - c_prime) * b
    mean_exp = 1.0 - u / 3.0 + u * u / 12.0 if u < 1e-4 else 2.0 * (math.expm1(-u) + u) / (u * u)
    return math.exp(c * b) * mean_exp - 1.0


def hanin_nica(hidden_widths: Sequence[int]) -> float:
    """e^{5 beta} - 1: Hanin and Nica's ReLU growth of E[K^2]/E[K]^2 (up to constants), a reference curve,
    not a prediction (it gives the shared layer's cross term C instead of C').   [SCIENCE §6]"""
    return math.expm1(5.0 * beta(hidden_widths))
