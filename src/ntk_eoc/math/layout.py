"""The NTK matrix layout and its 1/n factor.   [SCIENCE §2]

    K(theta) = [ (1/n) K_theta(x_i, x_j) ]  in R^{(n m_l) x (n m_l)}

Row and column (i, o) -- point i, output o -- sit at index i * m_l + o (point-major). Every kernel
in ntk_eoc (limit, empirical, sampled) uses this layout and goes through :func:`dataset_scale`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dataset_scale", "expand_points"]


def dataset_scale(n_points: int) -> float:
    """1/n: the factor of the NTK matrix over a dataset of n points."""
    return 1.0 / n_points


def expand_points(gram, output_dim: int):
    """G[i, j] -> G[i, j] for every output pair: the (n m_l) x (n m_l) matrix kron(G, 1_{m_l x m_l}).

    Works on numpy and JAX arrays (repeat along both axes).
    """
    if output_dim == 1:
        return gram
    xp = np if isinstance(gram, np.ndarray) else _jnp()
    return xp.repeat(xp.repeat(gram, output_dim, axis=-2), output_dim, axis=-1)


def _jnp():
    import jax.numpy as jnp

    return jnp
