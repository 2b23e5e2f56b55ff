"""The analysis of sampled kernels and limits (SCIENCE §4, §6, §7): one concept per module.

- :mod:`.names`          the closed sets of norms, deviations and statistics (no heavy imports)
- :mod:`.bootstrap`      paired (common-random-numbers) bootstrap intervals over shared draw ids
- :mod:`.stats`          deviations from the limit, bootstrap summaries, fitted rates
- :mod:`.spectrum`       eigenvalues of K(theta) and K_inf, predicted deep limits and asymptotic forms
- :mod:`.fluctuations`   V_diag and V_off measured from draws beside the product-form law
- :mod:`.min_eigen`      the table and claims of the min_eigen study
- :mod:`.claims`         verdict rules, claim rows and the claims table
- :mod:`.figures`        which figure shows which slice of the prepared data
- :mod:`.tables`         the tidy tables of an experiment
- :mod:`.plots`          Dataset in, matplotlib Figure out

One concept, one name at every layer, by design: ``fluctuations`` is the law in :mod:`ntk_eoc.math`, its
measurement here, its figures in :mod:`.plots` and its stage in :mod:`ntk_eoc.pipeline.stages`; likewise
``spectrum``, ``min_eigen``, ``concentration``, ``figures`` and ``limit``. Any other shared file name is a
different concept and is renamed.
"""
