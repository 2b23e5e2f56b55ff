# ntk-eoc pipeline: datasets -> NTK sampling -> gathered stores -> limit kernel (-> analysis stages).
# Run `snakemake --cores all` from the repository root; see workflow/README.md.


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/configs.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/sampling.smk"
include: "workflow/rules/gather.smk"
include: "workflow/rules/limit.smk"
include: "workflow/rules/concentration.smk"
include: "workflow/rules/spectrum.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/min_eigen.smk"
include: "workflow/rules/archive.smk"


localrules:
    all,
    run_config,


rule all:
    default_target: True
    input:
        final_targets,


onsuccess:
    print(outputs_summary())
