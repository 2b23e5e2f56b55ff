"""The (a,b)-ReLU family phi(s) = a s + b |s| and its Edge-of-Chaos constants.

This module is the only definition of sigma_EOC, Delta_phi and kappa_phi (SCIENCE.md §1):

    sigma^2   = 1 / (a^2 + b^2)                         (EOC weight scale)
    Delta_phi = b^2 / (a^2 + b^2)
    kappa_phi = (|a| + |b|) / sqrt(a^2 + b^2),  kappa^2 = 1 + 2 sqrt(Delta (1 - Delta))

Named members: ReLU = (1/2, 1/2), abs = (0, 1), leaky ReLU(alpha) = ((1+alpha)/2, (1-alpha)/2),
identity = (1, 0).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["ACTIVATION_NAMES", "Activation", "WeightScale"]

ACTIVATION_NAMES = ("relu", "abs", "leaky_relu", "identity")


class WeightScale:
    """sigma^2 = 1 / E[phi(z)^2] (z ~ N(0, 1), from ``norm2``): the scale of layers k >= 2 that keeps
    sigma^2 E[phi(h)^2] = 1 when h ~ N(0, 1). For the (a,b) family this is the EOC."""

    @property
    def norm2(self) -> float:
        raise NotImplementedError

    @property
    def sigma2(self) -> float:
        """sigma^2 = 1 / E[phi(z)^2]."""
        return 1.0 / self.norm2

    @property
    def sigma(self) -> float:
        """sigma = 1 / sqrt(E[phi(z)^2])."""
        return 1.0 / math.sqrt(self.norm2)


@dataclass(frozen=True)
class Activation(WeightScale):
    """phi(s) = a s + b |s|, phi'(s) = a + b sgn(s) with phi'(0) = a.   [SCIENCE §1]

    Args:
        a: linear coefficient.
        b: absolute-value coefficient. (a, b) = (0, 0), NaN or inf raise ``ValueError``.
        name: label used in run ids and figure legends (defaults to ``"ab(a,b)"``).

    Example:
        >>> relu = Activation.named("relu")
        >>> relu.sigma ** 2, relu.delta, round(relu.kappa ** 2, 12)
        (2.0, 0.5, 2.0)
    """

    a: float
    b: float
    name: str = ""

    def __post_init__(self) -> None:
        a, b = float(self.a), float(self.b)
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(f"activation: a and b must be finite, got a={self.a!r}, b={self.b!r}")
        if a == 0.0 and b == 0.0:
            raise ValueError("activation: a = b = 0 is the zero function, got a=0, b=0")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        if not self.name:
            object.__setattr__(self, "name", f"ab({a:g},{b:g})")

    @classmethod
    def named(cls, name: str, alpha: float | None = None) -> Activation:
        """The named members of the family: relu, abs, leaky_relu (needs ``alpha``), identity."""
        if name == "leaky_relu":
            if alpha is None or not math.isfinite(float(alpha)):
                raise ValueError(f"activation: leaky_relu needs a finite alpha, got alpha={alpha!r}")
            alpha = float(alpha)
            return cls((1.0 + alpha) / 2.0, (1.0 - alpha) / 2.0, name=f"leaky_relu({alpha:g})")
        if alpha is not None:
            raise ValueError(f"activation: alpha is only used by leaky_relu, got name={name!r}, alpha={alpha!r}")
        table = {"relu": (0.5, 0.5), "abs": (0.0, 1.0), "identity": (1.0, 0.0)}
        if name not in table:
            raise ValueError(f"activation: unknown name {name!r}; known: {', '.join(ACTIVATION_NAMES)}")
        return cls(*table[name], name=name)

    @property
    def norm2(self) -> float:
        """a^2 + b^2 = E[phi(z)^2] for z ~ N(0, 1)."""
        return self.a**2 + self.b**2

    @property
    def delta(self) -> float:
        """Delta_phi = b^2 / (a^2 + b^2) in [0, 1]."""
        return self.b**2 / self.norm2

    @property
    def kappa(self) -> float:
        """kappa_phi = (|a| + |b|) / sqrt(a^2 + b^2) in [1, sqrt 2]."""
        return (abs(self.a) + abs(self.b)) / math.sqrt(self.norm2)

    @property
    def is_linear(self) -> bool:
        """Delta_phi = 0: a linear network, whose limit kernel is degenerate (flagged, not an error)."""
        return self.b == 0.0

    def warn_if_linear(self) -> None:
        """Warn once per call site that Delta_phi = 0 gives a degenerate (rank-deficient) limit."""
        if self.is_linear:
            warnings.warn(
                f"activation {self.name}: Delta_phi = 0 (linear network); the limit kernel is "
                "degenerate (Theta_l = l rho_1) and the concentration bound does not apply",
                stacklevel=3,
            )

    def phi(self, s: ArrayLike) -> ArrayLike:
        """phi(s) = a s + b |s| (works on numpy and JAX arrays)."""
        return self.a * s + self.b * jnp.abs(s)

    def dphi(self, s: ArrayLike) -> ArrayLike:
        """phi'(s) = a + b sgn(s), with phi'(0) = a."""
        return self.a + self.b * jnp.sign(s)
