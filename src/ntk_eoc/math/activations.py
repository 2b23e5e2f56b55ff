"""Activations: the (a,b)-ReLU family phi(s) = a s + b |s| with its Edge-of-Chaos constants, and the smooth
elementwise ones (sigmoid, tanh, erf) of the finite-width samplers.

This module is the only definition of sigma_EOC, Delta_phi and kappa_phi (SCIENCE.md §1):

    sigma^2   = 1 / (a^2 + b^2)                         (EOC weight scale)
    Delta_phi = b^2 / (a^2 + b^2)
    kappa_phi = (|a| + |b|) / sqrt(a^2 + b^2),  kappa^2 = 1 + 2 sqrt(Delta (1 - Delta))

Named members: ReLU = (1/2, 1/2), abs = (0, 1), leaky ReLU(alpha) = ((1+alpha)/2, (1-alpha)/2),
identity = (1, 0).

Smooth elementwise activations beyond the (a,b)-ReLU family: sigmoid, tanh and erf.

For the finite-width samplers only: :class:`Elementwise` has the duck-typed interface the samplers use
from :class:`~ntk_eoc.math.activations.Activation` (``name``, ``phi``, ``dphi``, ``sigma``, ``is_linear``,
``warn_if_linear``), and the same weight-scale rule for layers k >= 2,

    sigma^2 = 1 / E[phi(z)^2],   z ~ N(0, 1),

which keeps sigma^2 E[phi(h)^2] = 1 when h ~ N(0, 1). For phi(s) = a s + b|s| this is exactly
sigma_EOC^2 = 1/(a^2 + b^2); for sigmoid, tanh and erf it is only a variance normalisation, NOT an Edge
of Chaos (their EOC, where sigma^2 E[phi'(h)^2] = 1 at the fixed point of the variance map, is another
sigma and, for sigmoid, needs a bias).

E[phi(z)^2] is computed by probabilists' Gauss-Hermite quadrature with 200 nodes. tanh converges
slowest (poles of tanh at +-i pi/2): the 200-node value agrees with adaptive scipy.integrate.quad to
< 1e-15 (100 nodes: 6e-12); erf agrees with its closed form E[erf(z)^2] = (2/pi) arcsin(2/3) to 1e-16.

No infinite-width limit kernel is computed for these activations in this project (``has_limit`` is
False): erf would have Williams' closed form, sigmoid and tanh need 2-D Gauss-Hermite; not implemented.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..validate import InvalidValue, real

if TYPE_CHECKING:  # JAX is imported when an activation is applied, not when one is configured
    import jax
    from jax.typing import ArrayLike


__all__ = [
    "ACTIVATION_NAMES",
    "ELEMENTWISE_NAMES",
    "GAUSS_HERMITE_NODES",
    "LEAKY_RELU_ALPHA",
    "Activation",
    "Elementwise",
    "WeightScale",
    "ab_dphi",
    "ab_phi",
    "activation_from_config",
]

ACTIVATION_NAMES = ("relu", "abs", "leaky_relu", "identity")
# Default slope of leaky ReLU on s < 0, the same in the library and in config/hydra/activation/leaky_relu.yaml.
LEAKY_RELU_ALPHA = 0.1
# Bounds on |a|, |b|: the kernel depends on (a, b) only up to scale (sigma^2 = 1/(a^2 + b^2)), and these keep
# a^2 + b^2 and its inverse far from float64 overflow and underflow (1e+-308).
COEFFICIENT_MAX = 1e100
COEFFICIENT_MIN = 1e-100
# (a, b) of the members named without a parameter.
_NAMED = {"relu": (0.5, 0.5), "abs": (0.0, 1.0), "identity": (1.0, 0.0)}


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
        name: label used in figure legends (defaults to ``"ab(a,b)"``).
        alpha: the slope of a leaky ReLU made by :meth:`named` (its config parameter); not compared.

    Example:
        >>> relu = Activation.named("relu")
        >>> relu.sigma ** 2, relu.delta, round(relu.kappa ** 2, 12)
        (2.0, 0.5, 2.0)
    """

    a: float
    b: float
    name: str = ""
    alpha: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        a = real("a", self.a, max_abs=COEFFICIENT_MAX, where="activation")
        b = real("b", self.b, max_abs=COEFFICIENT_MAX, where="activation")
        if max(abs(a), abs(b)) < COEFFICIENT_MIN:
            key, value = ("a", self.a) if abs(a) >= abs(b) else ("b", self.b)
            reason = f"max(|a|, |b|) is below {COEFFICIENT_MIN:g} (a = b = 0 is the zero function)"
            raise InvalidValue(key, value, reason, "activation")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        if not self.name:
            object.__setattr__(self, "name", f"ab({a:g},{b:g})")

    @classmethod
    def named(cls, name: str, alpha: float | None = None) -> Activation:
        """The named members of the family: relu, abs, leaky_relu (slope ``alpha``, default
        :data:`LEAKY_RELU_ALPHA`), identity."""
        if name == "leaky_relu":
            alpha = LEAKY_RELU_ALPHA if alpha is None else alpha
            alpha = real("alpha", alpha, max_abs=COEFFICIENT_MAX, where="activation")
            return cls((1.0 + alpha) / 2.0, (1.0 - alpha) / 2.0, name=f"leaky_relu({alpha:g})", alpha=alpha)
        if alpha is not None:
            raise InvalidValue("alpha", alpha, f"is only used by leaky_relu, not by {name!r}", "activation")
        if name not in _NAMED:
            raise InvalidValue("name", name, f"unknown; known: {', '.join(ACTIVATION_NAMES)}", "activation")
        return cls(*_NAMED[name], name=name)

    def config(self) -> dict[str, Any]:
        """The config section that makes this activation (:func:`activation_from_config` inverts it):
        ``{name}`` for relu, abs, identity; ``{name: leaky_relu, alpha}``; else ``{name: custom, a, b}``."""
        if self.alpha is not None:
            return {"name": "leaky_relu", "alpha": self.alpha}
        if _NAMED.get(self.name) == (self.a, self.b):
            return {"name": self.name}
        return {"name": "custom", "a": self.a, "b": self.b}

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
    def has_parity(self) -> bool:
        """phi is even (a = 0) or odd (b = 0): then x and -x give kernel rows equal up to sign."""
        return self.a == 0.0 or self.b == 0.0

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
        return ab_phi(self.a, self.b, s)

    def dphi(self, s: ArrayLike) -> ArrayLike:
        """phi'(s) = a + b sgn(s), with phi'(0) = a."""
        return ab_dphi(self.a, self.b, s)


def ab_phi(a: ArrayLike, b: ArrayLike, s: ArrayLike) -> ArrayLike:
    """phi(s) = a s + b |s| for coefficients given as numbers or traced arrays: the one definition, used by
    :meth:`Activation.phi` and by the compiled draw, whose (a, b) are arguments."""
    import jax.numpy as jnp

    return a * s + b * jnp.abs(s)


def ab_dphi(a: ArrayLike, b: ArrayLike, s: ArrayLike) -> ArrayLike:
    """phi'(s) = a + b sgn(s), with phi'(0) = a (coefficients as in :func:`ab_phi`)."""
    import jax.numpy as jnp

    return a + b * jnp.sign(s)


ELEMENTWISE_NAMES = ("sigmoid", "tanh", "erf")
# Nodes of the Gauss-Hermite rule for E[phi(z)^2] (module docstring: error < 1e-15 for all three).
GAUSS_HERMITE_NODES = 200

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@functools.cache
def _norm2(name: str) -> float:
    """E[phi(z)^2] = sum_i w_i phi(x_i)^2 / sqrt(2 pi) over the hermegauss nodes (weight exp(-x^2/2)),
    with float64 numpy/scipy versions of phi, independent of JAX's x64 setting."""
    from numpy.polynomial.hermite_e import hermegauss
    from scipy import special

    phi = {"sigmoid": special.expit, "tanh": np.tanh, "erf": special.erf}[name]
    nodes, weights = hermegauss(GAUSS_HERMITE_NODES)
    return float(weights @ phi(nodes) ** 2 / math.sqrt(2.0 * math.pi))


@dataclass(frozen=True)
class Elementwise(WeightScale):
    """A smooth elementwise activation, by name:

        sigmoid(s) = 1 / (1 + e^-s),   sigmoid' = sigmoid (1 - sigmoid)
        tanh(s),                       tanh'    = 1 - tanh^2
        erf(s) = (2/sqrt pi) int_0^s e^-t^2 dt,   erf'(s) = (2/sqrt pi) e^-s^2

    Frozen and hashable (a ``functools.lru_cache`` key and a static argument of ``jax.jit``); equal
    exactly when the names are equal.

    Args:
        name: one of ``ELEMENTWISE_NAMES``; anything else raises ``ValueError``.

    Example:
        >>> act = Elementwise("erf")
        >>> round(act.norm2, 12), act.has_limit
        (0.464559054398, False)
    """

    name: str
    # No limit kernel is implemented for elementwise activations (module docstring).
    has_limit: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name not in ELEMENTWISE_NAMES:
            known = ", ".join(ELEMENTWISE_NAMES)
            raise InvalidValue("name", self.name, f"unknown; known: {known}", "elementwise activation")

    def config(self) -> dict[str, Any]:
        """The config section that makes this activation: ``{name}``."""
        return {"name": self.name}

    @property
    def norm2(self) -> float:
        """E[phi(z)^2] for z ~ N(0, 1), by 200-node Gauss-Hermite quadrature (error < 1e-15)."""
        return _norm2(self.name)

    @property
    def has_parity(self) -> bool:
        """tanh and erf are odd (x and -x give kernel rows equal up to sign); sigmoid has no parity."""
        return self.name in ("tanh", "erf")

    @property
    def is_linear(self) -> bool:
        """Always False: sigmoid, tanh and erf are not linear."""
        return False

    def warn_if_linear(self) -> None:
        """No-op (never linear); the interface of ``Activation.warn_if_linear``."""

    def phi(self, s: ArrayLike) -> jax.Array:
        """phi(s) (works on numpy and JAX arrays)."""
        import jax
        import jax.numpy as jnp
        import jax.scipy.special as jsp

        if self.name == "sigmoid":
            return jax.nn.sigmoid(s)
        if self.name == "tanh":
            return jnp.tanh(s)
        return jsp.erf(s)

    def dphi(self, s: ArrayLike) -> jax.Array:
        """phi'(s) in closed form (see the class docstring), accurate in relative terms for large |s|."""
        import jax
        import jax.numpy as jnp

        if self.name == "sigmoid":
            return jax.nn.sigmoid(s) * jax.nn.sigmoid(-s)  # = p (1 - p) without cancellation at large s
        if self.name == "tanh":
            return 1.0 / jnp.cosh(s) ** 2  # = 1 - tanh^2 without cancellation; cosh overflow gives 0
        return _TWO_OVER_SQRT_PI * jnp.exp(-jnp.square(s))


def activation_from_config(section: Mapping[str, Any]) -> Activation | Elementwise:
    """The activation of a config section: ``{name}`` (relu, abs, identity, or an elementwise sigmoid,
    tanh, erf), ``{name: leaky_relu, alpha}`` or ``{name: custom, a, b}``; ValueError naming a bad key."""

    name = section.get("name")
    known = (*ACTIVATION_NAMES, "custom", *ELEMENTWISE_NAMES)
    if name not in known:
        raise InvalidValue("name", name, f"must be one of {', '.join(known)}", "activation")
    needs = {"leaky_relu": ("alpha",), "custom": ("a", "b")}.get(name, ())
    for key in section:
        if key != "name" and key not in needs:
            raise InvalidValue(key, section[key], f"is not used by activation {name!r}", "activation")
    if name in ELEMENTWISE_NAMES:
        return Elementwise(name)
    if name == "custom":
        a = real("a", section.get("a"), max_abs=COEFFICIENT_MAX, where="activation")
        b = real("b", section.get("b"), max_abs=COEFFICIENT_MAX, where="activation")
        return Activation(a, b, name=f"custom({a:g},{b:g})")
    return Activation.named(name, section.get("alpha"))
