# Stage run_config: the resolved Hydra config of each run, as YAML (human-readable provenance).
# output: <view>/configs/{run}.yaml


rule run_config:
    input:
        unpack(PLAN.inputs("run_config")),
    output:
        PLAN.output("run_config"),
    log:
        PLAN.log("run_config"),
    conda:
        "../../envs/ntk.yaml"
    params:
        spec=PLAN.spec("run_config"),
    shell:
        "python -m ntk_eoc.pipeline.stages.run_config --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"
