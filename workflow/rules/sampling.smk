# Stage sampling: one immutable store per (run, base width, block of draws).


rule sample:
    input:
        dataset=sample_dataset,
    output:
        directory(result("samples/{run}/m~{width}/draws_{start}-{stop}.zarr")),
    log:
        log_path("sample/{run}/m~{width}/draws_{start}-{stop}.log"),
    benchmark:
        bench_path("sample/{run}/m~{width}/draws_{start}-{stop}.tsv")
    conda:
        "../../envs/ntk.yaml"
    resources:
        mem_mb=sample_mem_mb,
    params:
        cfg=sampling_params,
    shell:
        "python -m ntk_eoc.pipeline.sampling --config {params.cfg:q} --dataset {input.dataset} --draws {wildcards.start}:{wildcards.stop} --run {wildcards.run} --output {output} > {log} 2>&1"
