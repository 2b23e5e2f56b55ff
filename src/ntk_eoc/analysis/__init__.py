"""The analysis of sampled kernels and limits (SCIENCE §4, §6, §7): one concept per module.

- :mod:`.names`                 the closed sets of norms, deviations and statistics (no heavy imports)
- :mod:`.bootstrap`             paired (common-random-numbers) bootstrap intervals over shared draw ids
- :mod:`.stats`                 deviations from the limit, bootstrap summaries, fitted rates
- :mod:`.spectrum`              eigenvalues of K(theta) and K_inf, predicted deep limits and asymptotic forms
- :mod:`.fluctuations`          V_diag and V_off measured from draws beside the product-form law
- :mod:`.verdicts`              verdict rules (holds / fails / inconclusive) and the claims-table columns
- :mod:`.concentration_claims`  claim rows from per-draw deviations
- :mod:`.limit_claims`          claim rows from the deep-limit spectrum
- :mod:`.claims`                the claims table of the limit study, its Markdown and files
- :mod:`.min_eigen`             the table and claims of the min_eigen study
- :mod:`.plots`                 Dataset in, matplotlib Figure out
"""
