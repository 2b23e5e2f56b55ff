# Stage spectrum: the K_inf spectrum against depth per (dataset, activation, depths), one recursion each.
# output: stores/spectrum/{spectrum_key}.zarr


rule spectrum:
    input:
        unpack(PLAN.inputs("spectrum")),
    output:
        directory(PLAN.output("spectrum")),
    log:
        PLAN.log("spectrum"),
    benchmark:
        PLAN.benchmark("spectrum")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("spectrum"),
    shell:
        "python -m ntk_eoc.pipeline.stages.spectrum --spec {params.spec:q} --dataset {input.dataset:q} --output {output:q} > {log:q} 2>&1"
