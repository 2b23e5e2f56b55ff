# Stage limit: K_inf and the per-layer rho_k per (dataset, activation, depth, output_dim).
# output: stores/limit/{limit_key}.zarr


rule limit:
    input:
        unpack(PLAN.inputs("limit")),
    output:
        directory(PLAN.output("limit")),
    log:
        PLAN.log("limit"),
    benchmark:
        PLAN.benchmark("limit")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("limit"),
    shell:
        "python -m ntk_eoc.pipeline.stages.limit --spec {params.spec:q} --dataset {input.dataset:q} --output {output:q} > {log:q} 2>&1"
