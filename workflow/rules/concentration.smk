# Stage concentration: per draw ||K(theta) - K_inf|| (operator, Frobenius, max entry; absolute and
# relative) and the extreme eigenvalues of K(theta), one store per run.

from ntk_eoc.pipeline.concentration import limit_input


rule concentration:
    input:
        gathered=rules.gather.output[0],
        limit=limit_input(limit_store),
    output:
        directory(result("concentration/{run}.zarr")),
    log:
        log_path("concentration/{run}.log"),
    benchmark:
        bench_path("concentration/{run}.tsv")
    conda:
        "../../envs/ntk.yaml"
    params:
        cfg=gather_params,
    shell:
        "python -m ntk_eoc.pipeline.concentration --config {params.cfg:q} --gathered {input.gathered} --limit {input.limit} --output {output} > {log} 2>&1"
