# Stage spectrum: the K_inf spectrum against depth per (dataset, activation, depths), one recursion each.


rule spectrum:
    input:
        dataset=PLAN.dataset_of,
    output:
        directory(PLAN.output("spectrum")),
    log:
        PLAN.log("spectrum"),
    benchmark:
        PLAN.benchmark("spectrum")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spectrum_spec,
    shell:
        "python -m ntk_eoc.pipeline.stages.spectrum --spec {params.spec:q} --dataset {input.dataset:q} --output {output:q} > {log:q} 2>&1"
