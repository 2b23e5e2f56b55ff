# Stage figures: every figure (PNG for the report, PDF beside it), the tidy tables and the claims
# table of the experiment, in one job that summarizes all runs once (study limit).


rule figures:
    input:
        **PLAN.figures_inputs(),
    output:
        **reported(PLAN.figures_outputs()),
    log:
        PLAN.log_of("figures"),
    benchmark:
        PLAN.benchmark_of("figures")
    conda:
        "../../envs/ntk.yaml"
    threads: workflow.cores
    params:
        spec=PLAN.figures_spec(),
    shell:
        "python -m ntk_eoc.pipeline.stages.figures --spec {params.spec:q} --concentration {input.concentration:q} "
        "--fluctuations {input.fluctuations:q} "
        "--spectrum {input.spectrum:q} --files {output:q} --threads {threads} > {log:q} 2>&1"
