# Stage min_eigen (study min_eigen): per draw, the smallest and largest eigenvalues of the NTK and of each
# layer block, one store per (run, base width, block of draws); then one summary job for the table,
# the figure and the claims of the experiment.

from ntk_eoc.pipeline.min_eigen import mem_mb_input, params_input, store_paths
from ntk_eoc.pipeline.min_eigen_summary import (
    summary_params as min_eigen_summary_params,
)


rule min_eigen:
    input:
        dataset=sample_dataset,
    output:
        directory(result("min_eigen/{run}/m~{width}/draws_{start}-{stop}.zarr")),
    log:
        log_path("min_eigen/{run}/m~{width}/draws_{start}-{stop}.log"),
    benchmark:
        bench_path("min_eigen/{run}/m~{width}/draws_{start}-{stop}.tsv")
    conda:
        "../../envs/ntk.yaml"
    resources:
        mem_mb=mem_mb_input(RUNS),
    params:
        cfg=params_input(RUNS),
    shell:
        "python -m ntk_eoc.pipeline.min_eigen --config {params.cfg:q} --dataset {input.dataset} --draws {wildcards.start}:{wildcards.stop} --run {wildcards.run} --output {output} > {log} 2>&1"


rule min_eigen_summary:
    input:
        store_paths(RUNS, RESULTS),
    output:
        table=result("tables/min_eigen.csv"),
        claims_csv=result("tables/min_eigen_claims.csv"),
        claims_md=result("tables/min_eigen_claims.md"),
        png=report(
            result("figures/min_eigen.png"),
            caption="../report/min_eigen.rst",
            category="Figures",
            labels={"figure": "min_eigen"},
        ),
        pdf=result("figures/min_eigen.pdf"),
    log:
        log_path("min_eigen_summary/min_eigen_summary.log"),
    benchmark:
        bench_path("min_eigen_summary/min_eigen_summary.tsv")
    conda:
        "../../envs/ntk.yaml"
    params:
        cfg=_json(min_eigen_summary_params(RUNS) if STUDY == "min_eigen" else {}),
    shell:
        "python -m ntk_eoc.pipeline.min_eigen_summary --config {params.cfg:q} --stores {input:q} --files {output:q} --output {output.table} > {log} 2>&1"


if STUDY == "min_eigen":
    FINAL_TARGETS.extend(rules.min_eigen_summary.output)
