# Stage limit: K_inf and the per-layer rho_k per (dataset, activation, depth, output_dim).


rule limit:
    input:
        dataset=limit_dataset,
    output:
        directory(result("limit/{limit_id}.zarr")),
    log:
        log_path("limit/{limit_id}.log"),
    benchmark:
        bench_path("limit/{limit_id}.tsv")
    conda:
        "../../envs/ntk.yaml"
    params:
        cfg=limit_params,
    shell:
        "python -m ntk_eoc.pipeline.limit --config {params.cfg:q} --dataset {input.dataset} --output {output} > {log} 2>&1"


if STUDY == "limit":
    FINAL_TARGETS.extend(limit_store(run) for run in RUNS)
