# Stage archive (not part of `rule all`; run `snakemake --cores 2 archive`): one zip of the
# experiment's results, written after every final target exists.


rule archive:
    input:
        PLAN.final_targets(),
    output:
        PLAN.archive_output(),
    log:
        PLAN.log_of("archive"),
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.archive_spec(),
    shell:
        "python -m ntk_eoc.pipeline.stages.archive --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"
