# Stage fluctuations: per run and base width, the relative variance of the NTK's entries over draws
# (V_diag, V_off with bootstrap intervals) beside the product-form law, one store per run.


rule fluctuations:
    input:
        PLAN.fluctuations_inputs,
    output:
        directory(PLAN.output("fluctuations")),
    log:
        PLAN.log("fluctuations"),
    benchmark:
        PLAN.benchmark("fluctuations")
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.fluctuations_spec,
    shell:
        "python -m ntk_eoc.pipeline.stages.fluctuations --spec {params.spec:q} --output {output:q} {input:q} > {log:q} 2>&1"
