# Stage sample: one immutable store per (network, group of base widths, block of draws); the plan groups
# the base widths whose draws are cheap, so that a job computes for much longer than it starts.
# output: stores/samples/{sample_key}/m~{widths}/draws_{start}-{stop}.zarr


rule sample:
    input:
        unpack(PLAN.inputs("sample")),
    output:
        directory(PLAN.output("sample")),
    log:
        PLAN.log("sample"),
    benchmark:
        PLAN.benchmark("sample")
    conda:
        "../../envs/ntk.yaml"
    resources:
        mem_mb=PLAN.mem_mb("sample"),
    params:
        spec=PLAN.spec("sample"),
    shell:
        "python -m ntk_eoc.pipeline.stages.sample --spec {params.spec:q} --dataset {input.dataset:q} "
        "--draws {wildcards.start}:{wildcards.stop} --output {output:q} > {log:q} 2>&1"
