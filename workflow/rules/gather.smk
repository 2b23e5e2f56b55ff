# Stage gather: all draw blocks of a run into one (base_width, draw, i, j) store.


rule gather:
    input:
        gather_inputs,
    output:
        directory(result("gathered/{run}.zarr")),
    log:
        log_path("gather/{run}.log"),
    benchmark:
        bench_path("gather/{run}.tsv")
    conda:
        "../../envs/ntk.yaml"
    params:
        cfg=gather_params,
    shell:
        "python -m ntk_eoc.pipeline.gather --config {params.cfg:q} --output {output} {input:q} > {log} 2>&1"


if STUDY == "limit":
    FINAL_TARGETS.extend(gathered_store(run) for run in RUNS)
