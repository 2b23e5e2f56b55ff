# Stage concentration: per draw ||K(theta) - K_inf|| (operator, Frobenius, max entry; absolute and
# relative) and the extreme eigenvalues of K(theta), one store per run (its base widths and draws).
# output: stores/concentration/{concentration_key}.zarr


rule concentration:
    input:
        unpack(PLAN.inputs("concentration")),
    output:
        directory(PLAN.output("concentration")),
    log:
        PLAN.log("concentration"),
    benchmark:
        PLAN.benchmark("concentration")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("concentration"),
    shell:
        "python -m ntk_eoc.pipeline.stages.concentration --spec {params.spec:q} --samples {input.samples:q} "
        "--limit {input.limit:q} --output {output:q} > {log:q} 2>&1"
