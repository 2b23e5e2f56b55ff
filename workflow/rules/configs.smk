# Stage configs: the resolved Hydra config of each run, as YAML (human-readable provenance).


rule run_config:
    output:
        result("configs/{run}.yaml"),
    log:
        log_path("run_config/{run}.log"),
    conda:
        "../../envs/ntk.yaml"
    params:
        cfg=resolved_params,
    shell:
        "python -m ntk_eoc.pipeline.configs --config {params.cfg:q} --output {output} > {log} 2>&1"


FINAL_TARGETS.extend(result(f"configs/{run}.yaml") for run in RUNS)
