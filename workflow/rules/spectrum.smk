# Stage spectrum: the K_inf spectrum against depth per (dataset, activation, depths), one recursion each.

from ntk_eoc.pipeline.spectrum import dataset_input, params_input, spectra

SPECTRA = spectra(RUNS) if STUDY == "limit" else {}


wildcard_constraints:
    spectrum_id=_alternation(SPECTRA),


rule limit_spectrum:
    input:
        dataset=dataset_input(SPECTRA, RESULTS),
    output:
        directory(result("spectrum/{spectrum_id}.zarr")),
    log:
        log_path("spectrum/{spectrum_id}.log"),
    benchmark:
        bench_path("spectrum/{spectrum_id}.tsv")
    conda:
        "../../envs/ntk.yaml"
    params:
        cfg=params_input(SPECTRA),
    shell:
        "python -m ntk_eoc.pipeline.spectrum --config {params.cfg:q} --dataset {input.dataset} --output {output} > {log} 2>&1"
