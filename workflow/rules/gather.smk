# Stage gather: all draw blocks of a run into one (base_width, draw, i, j) store.


rule gather:
    input:
        PLAN.run_samples,
    output:
        directory(PLAN.output("gather")),
    log:
        PLAN.log("gather"),
    benchmark:
        PLAN.benchmark("gather")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.gather_spec,
    shell:
        "python -m ntk_eoc.pipeline.stages.gather --spec {params.spec:q} --output {output:q} {input:q} > {log:q} 2>&1"
