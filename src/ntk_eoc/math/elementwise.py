"""Smooth elementwise activations beyond the (a,b)-ReLU family: sigmoid, tanh and erf.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..validate import InvalidValue
from .activations import WeightScale

if TYPE_CHECKING:  # JAX is imported when an activation is applied, not when one is configured
    import jax
    from jax.typing import ArrayLike

__all__ = ["ELEMENTWISE_NAMES", "GAUSS_HERMITE_NODES", "Elementwise"]

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
