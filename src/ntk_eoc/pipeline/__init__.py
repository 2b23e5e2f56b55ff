"""The workflow side of ntk-eoc: what Snakemake plans and what its jobs run.

- :mod:`.plan`      the DAG side (no JAX): Hydra composition, the table of runs, paths, params,
  resources and final targets; ``workflow/rules/common.smk`` makes one :class:`~.plan.Plan`
- :mod:`.outputs`   what a run writes and where: store patterns, store names by value, views, figures, tables
- :mod:`.resources` the memory model and the size of the sampling jobs
- :mod:`.compose`   Hydra composition of an experiment's sweep
- :mod:`.runs`      one run's config, typed and validated (:class:`~.runs.RunConfig`)
- :mod:`.settings`  the analysis sections of the config
- :mod:`.specs`     typed job specs with one JSON codec
- :mod:`.stages`    one module per stage (``python -m ntk_eoc.pipeline.stages.<stage>``), named as its
  rule file ``workflow/rules/<stage>.smk``: decode the spec, compute, write
- :mod:`.cli`       the ``ntk-eoc`` command
"""
