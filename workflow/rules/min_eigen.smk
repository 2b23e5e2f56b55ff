# Stage min_eigen: (study min_eigen): per draw, the smallest and largest eigenvalues of the NTK and of
# each layer block, one store per (run, base width, block of draws).
# output: stores/min_eigen/{sample_key}/m~{width}/draws_{start}-{stop}.zarr


rule min_eigen:
    input:
        unpack(PLAN.inputs("min_eigen")),
    output:
        directory(PLAN.output("min_eigen")),
    log:
        PLAN.log("min_eigen"),
    benchmark:
        PLAN.benchmark("min_eigen")
    conda:
        "../../envs/ntk.yaml"
    resources:
        mem_mb=PLAN.mem_mb("min_eigen"),
    params:
        spec=PLAN.spec("min_eigen"),
    shell:
        "python -m ntk_eoc.pipeline.stages.min_eigen --spec {params.spec:q} --dataset {input.dataset:q} "
        "--draws {wildcards.start}:{wildcards.stop} --output {output:q} > {log:q} 2>&1"
