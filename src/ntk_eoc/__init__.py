"""ntk-eoc: the NTK of deep (a,b)-ReLU MLPs at the Edge of Chaos, its infinite-width limit,
and fast exact samplers of its finite-width fluctuations.

The conventions and formulas are those of SCIENCE.md; each concept lives in one module:

- :mod:`ntk_eoc.activations`  phi(s) = a s + b|s|, sigma_EOC, Delta_phi, kappa_phi
- :mod:`ntk_eoc.elementwise`  sigmoid, tanh, erf for the finite-width samplers (no limit kernel)
- :mod:`ntk_eoc.architecture` widths, factorized layers U_k V_k, eoc / standard initialisation
- :mod:`ntk_eoc.schedules`    layer widths m_k = k^2 m (and linear, constant, explicit)
- :mod:`ntk_eoc.layout`       the (n m_l) x (n m_l) matrix layout and its 1/n factor
- :mod:`ntk_eoc.limit`        the infinite-width kernel K_inf
- :mod:`ntk_eoc.empirical`    K(theta) of given weights through per-layer Gram products
- :mod:`ntk_eoc.samplers`     many draws of K(theta): explicit weights or Gaussian conditioning
- :mod:`ntk_eoc.eigen`        the smallest eigenvalue of an NTK matrix (float64, exact)
"""

from .activations import Activation
from .architecture import Architecture
from .elementwise import Elementwise
from .empirical import empirical_ntk
from .limit import LimitLayers, limit_kernel, limit_layers
from .samplers import draw_keys, sample_kernels
from .schedules import widths

__all__ = [
    "Activation",
    "Architecture",
    "Elementwise",
    "LimitLayers",
    "draw_keys",
    "empirical_ntk",
    "limit_kernel",
    "limit_layers",
    "sample_kernels",
    "widths",
]
__version__ = "0.1.0"
