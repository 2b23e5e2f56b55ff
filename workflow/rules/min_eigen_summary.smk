# Stage min_eigen_summary (study min_eigen): the table, the figure and the claims of the experiment
# from every min_eigen store, in one job.


rule min_eigen_summary:
    input:
        PLAN.min_eigen_inputs(),
    output:
        **reported(PLAN.min_eigen_summary_outputs()),
    log:
        PLAN.log_of("min_eigen_summary"),
    benchmark:
        PLAN.benchmark_of("min_eigen_summary")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.min_eigen_summary_spec(),
    shell:
        "python -m ntk_eoc.pipeline.stages.min_eigen_summary --spec {params.spec:q} --stores {input:q} "
        "--files {output:q} > {log:q} 2>&1"
