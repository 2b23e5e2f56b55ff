# Stage min_eigen_summary (study min_eigen): the table, the figure and the claims of the experiment
# from every min_eigen store, in one job. The spec names each file it writes.
# output: <view>/tables/min_eigen.csv, min_eigen_claims.{csv,md}; <view>/figures/min_eigen.{png,pdf}


rule min_eigen_summary:
    input:
        unpack(PLAN.inputs("min_eigen_summary")),
    output:
        **reported(PLAN.outputs("min_eigen_summary")),
    log:
        PLAN.log("min_eigen_summary"),
    benchmark:
        PLAN.benchmark("min_eigen_summary")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("min_eigen_summary"),
    shell:
        "python -m ntk_eoc.pipeline.stages.min_eigen_summary --spec {params.spec:q} --stores {input.stores:q} "
        "--configs {input.configs:q} --manifest {output.manifest:q} > {log:q} 2>&1"
