# Stage dataset: the inputs x of every distinct dataset config (shared by all runs using it).
# output: stores/datasets/{dataset}.zarr


rule dataset:
    input:
        unpack(PLAN.inputs("dataset")),
    output:
        directory(PLAN.output("dataset")),
    log:
        PLAN.log("dataset"),
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("dataset"),
    shell:
        "python -m ntk_eoc.pipeline.stages.dataset --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"
