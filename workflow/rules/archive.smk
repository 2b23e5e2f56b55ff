# Stage archive (not part of `rule all`; run `snakemake --cores 2 archive`): one zip of the
# experiment's results, written after every final target exists.


rule archive:
    input:
        final_targets,
    output:
        f"{config['results_dir']}/archives/{EXPERIMENT}.zip",
    log:
        log_path("archive/archive.log"),
    conda:
        "../../envs/ntk.yaml"
    params:
        experiment_dir=RESULTS,
    shell:
        "python -m ntk_eoc.pipeline.archive --experiment-dir {params.experiment_dir:q} --output {output:q} > {log} 2>&1"
