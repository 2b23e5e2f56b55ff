"""The math of ntk-eoc, one concept per module (SCIENCE §1-§5):

- :mod:`.activations`   phi(s) = a s + b|s|, sigma_EOC, Delta_phi, kappa_phi
  (and :class:`~.activations.Elementwise`: sigmoid, tanh, erf for the finite-width samplers, no limit kernel)
- :mod:`.datasets`      input datasets x in R^{n x m_0}, scaled to ||x||^2 = m_0; distinctness check
- :mod:`.schedules`     layer widths m_k = k^2 m (and linear, constant, explicit)
- :mod:`.architecture`  an MLP as a chain of linear maps: factorized layers, eoc / standard initialisation
- :mod:`.layout`        the (n m_l) x (n m_l) matrix layout and its 1/n factor
- :mod:`.limit`         the infinite-width kernel K_inf
- :mod:`.empirical`     K(theta) of given weights through per-layer Gram products
- :mod:`.cost`          cost and memory of one sampled draw (no JAX)
- :mod:`.conditioning`  the float64 Gram factorizations behind the conditioned draw (R, R^+, Q)
- :mod:`.samplers`      many draws of K(theta): explicit weights or Gaussian conditioning
- :mod:`.eigen`         extreme eigenvalues of NTK matrices (float64, exact)
- :mod:`.fluctuations`  the first-order law of Var(K_ii) / E[K_ii]^2 across width schedules (SCIENCE §6)
- :mod:`.first_order`   the first-order covariance and mean shift of every entry of K(theta), and the
  predicted law of ||K(theta) - K_inf|| (SCIENCE §6.1)

Imports go one way: activations, schedules -> architecture -> limit, empirical, cost, conditioning -> samplers.
"""
