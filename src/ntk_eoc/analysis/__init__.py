"""The analysis of sampled kernels and limits (SCIENCE §4): one concept per module.

- :mod:`.names`      the closed sets of norms, deviations and statistics (no heavy imports)
- :mod:`.stats`      deviations from the limit, bootstrap summaries, fitted rates
- :mod:`.spectrum`   eigenvalues of K(theta) and K_inf, predicted deep limits
- :mod:`.claims`     the claims table of the limit study
- :mod:`.min_eigen`  the table and claims of the min_eigen study
- :mod:`.plots`      Dataset in, matplotlib Figure out
"""
