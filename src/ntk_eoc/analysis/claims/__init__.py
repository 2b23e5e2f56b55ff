"""Claims: every row states its rule and margin and can come out holds, fails or inconclusive.

- :mod:`.verdicts`            verdict rules (holds / fails / inconclusive) and the claims-table columns
- :mod:`.concentration_rows`  claim rows from per-draw deviations
- :mod:`.limit_rows`          claim rows from the deep-limit spectrum
- :mod:`.table`               the claims table of the limit study, its Markdown and files

The fluctuation rows are built beside their statistic (:func:`ntk_eoc.analysis.fluctuations.fluctuation_rows`),
the min_eigen rows likewise (:mod:`ntk_eoc.analysis.min_eigen`).
"""
