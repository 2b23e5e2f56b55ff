# Stage figures: every figure (PNG for the report, PDF beside it), the tidy tables and the claims
# table of the experiment, in one job that summarizes all runs once (study limit). The spec names
# each file it writes.
# output: <view>/figures/{figure}.png, .pdf; <view>/tables/{table} (outputs.FIGURES, outputs.TABLES);
# <view>/MANIFEST.json (written last: every file above and the run configs, storage.view_manifest)


rule figures:
    input:
        unpack(PLAN.inputs("figures")),
    output:
        **reported(PLAN.outputs("figures")),
    log:
        PLAN.log("figures"),
    benchmark:
        PLAN.benchmark("figures")
    conda:
        "../../envs/ntk.yaml"
    threads: workflow.cores
    params:
        spec=PLAN.spec("figures"),
    shell:
        "python -m ntk_eoc.pipeline.stages.figures --spec {params.spec:q} --concentration {input.concentration:q} "
        "--fluctuations {input.fluctuations:q} --first-order {input.first_order:q} --spectrum {input.spectrum:q} --threads {threads} "
        "--configs {input.configs:q} --manifest {output.manifest:q} > {log:q} 2>&1"
