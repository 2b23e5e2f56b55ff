# Stage dataset: the inputs x of every distinct dataset config (shared by all runs using it).


rule dataset:
    output:
        directory(PLAN.output("dataset")),
    log:
        PLAN.log("dataset"),
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.dataset_spec,
    shell:
        "python -m ntk_eoc.pipeline.stages.dataset --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"
