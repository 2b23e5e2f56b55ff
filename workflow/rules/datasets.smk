# Stage datasets: the inputs x of every distinct dataset config (shared by all runs using it).


rule dataset:
    output:
        directory(result("datasets/{dataset_id}.zarr")),
    log:
        log_path("dataset/{dataset_id}.log"),
    conda:
        "../../envs/ntk.yaml"
    params:
        cfg=dataset_params,
    shell:
        "python -m ntk_eoc.pipeline.datasets --config {params.cfg:q} --output {output} > {log} 2>&1"
