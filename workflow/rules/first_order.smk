# Stage first_order: the first-order model of one network's NTK (SCIENCE §6.1) at base width 1: the
# covariance and mean shift of every entry and draws of its predicted deviation norms.
# output: stores/first_order/{first_order_key}.zarr


rule first_order:
    input:
        unpack(PLAN.inputs("first_order")),
    output:
        directory(PLAN.output("first_order")),
    log:
        PLAN.log("first_order"),
    benchmark:
        PLAN.benchmark("first_order")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("first_order"),
    shell:
        "python -m ntk_eoc.pipeline.stages.first_order --spec {params.spec:q} --dataset {input.dataset:q} "
        "--output {output:q} > {log:q} 2>&1"
