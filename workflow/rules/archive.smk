# Stage archive (not part of `rule all`; run `snakemake --cores 2 archive`): one zip of the
# experiment's results, written after every final target exists.
# output: archives/<view>.zip


rule archive:
    input:
        unpack(PLAN.inputs("archive")),
    output:
        PLAN.archive_output(),
    log:
        PLAN.log("archive"),
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("archive"),
    shell:
        "python -m ntk_eoc.pipeline.stages.archive --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"
