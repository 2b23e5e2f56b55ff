"""The finite-width fluctuation law of the NTK diagonal, to first order in 1/m_k.   [SCIENCE §6]

For an input on the sphere (||x||^2 = m_0) and a depth-l EOC (a,b)-ReLU network with hidden widths
m_1..m_{l-1}, a diagonal entry of K(theta) has, with t = k/l,

    V_diag = Var(K_ii) / E[K_ii]^2  ~=  prod_{k=1}^{l-1} (1 + w(k/l) / m_k) - 1,
    w(t)   = C ((1-t)^2 + t^2) + 2 C' t (1-t),   C = 2 + 12 Delta (1-Delta),   C' = 4 Delta (1-Delta)

(ReLU: C = 5, C' = 1; abs: C = 2, C' = 0), and E[K_ii] = l (times 1/n in the matrix). The law is
first order: its error is O(sum_k 1/m_k^2). Asymptotic forms, with beta = sum_k 1/m_k:

- quadratic m_k = k^2 m: V_diag -> sinh(pi sqrt(C/m)) / (pi sqrt(C/m)) - 1 ~ C pi^2 / (6m) as l grows;
- constant m_k = m:      V_diag ~ exp((2C + C') l / (3m)) - 1;
- linear m_k = k m:      V_diag ~ C ln(l) / m.

Example values: ReLU, widths 8 k^2, l = 9: 0.898; ReLU, constant width 32, l = 9: 1.302.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..validate import integer, integer_list, real
from .activations import Activation

__all__ = [
    "beta",
    "fluctuation_constants",
    "fluctuation_weight",
    "v_diag",
    "v_diag_constant_asymptotic",
    "v_diag_quadratic_limit",
]


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


def v_diag_constant_asymptotic(activation: Activation, base_width: float, depth: int) -> float:
    """exp((2C + C') l / (3m)) - 1 for m_k = m: the sum of w(k/l)/m as an integral.   [SCIENCE §6]"""
    c, c_prime = fluctuation_constants(activation)
    depth = integer("depth", depth, where="v_diag_constant_asymptotic")
    return math.expm1((2.0 * c + c_prime) * depth / (3.0 * _base(base_width, "v_diag_constant_asymptotic")))
