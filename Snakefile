# ntk-eoc: datasets -> NTK sampling -> limit kernel -> concentration, spectrum -> figures, tables, claims
# (study limit), or datasets -> lambda_min per draw -> summary (study min_eigen).
#
# Results: <results_dir>/stores/<stage>/... holds every computed store once, named by the values it
# holds and shared by all experiments; <results_dir>/<view>/ (the experiment, <experiment>+<variant>, or
# --config name=...) holds one view's configs, figures and tables. Logs beside the outputs, under logs/ of the same folder.
# ntk_eoc.pipeline.plan has the path table. Run `snakemake --cores all`; see docs/developing.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/run_config.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/limit.smk"
include: "workflow/rules/concentration.smk"
include: "workflow/rules/fluctuations.smk"
include: "workflow/rules/first_order.smk"
include: "workflow/rules/spectrum.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/min_eigen.smk"
include: "workflow/rules/min_eigen_summary.smk"
include: "workflow/rules/archive.smk"


localrules:
    all,
    run_config,


rule all:
    default_target: True
    input:
        PLAN.final_targets(),


onsuccess:
    print(PLAN.summary())
