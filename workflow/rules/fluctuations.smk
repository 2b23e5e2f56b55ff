# Stage fluctuations: per run and base width, the relative variance of the NTK's entries over draws
# (V_diag, V_off with bootstrap intervals) beside the product-form law, one store per run.
# output: stores/fluctuations/{fluctuations_key}.zarr


rule fluctuations:
    input:
        unpack(PLAN.inputs("fluctuations")),
    output:
        directory(PLAN.output("fluctuations")),
    log:
        PLAN.log("fluctuations"),
    benchmark:
        PLAN.benchmark("fluctuations")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("fluctuations"),
    shell:
        "python -m ntk_eoc.pipeline.stages.fluctuations --spec {params.spec:q} --samples {input.samples:q} "
        "--output {output:q} > {log:q} 2>&1"
