# Stage figures: every figure (PNG for the report, PDF beside it), the tidy tables and the claims
# table of the experiment, in one job that summarizes all runs once.

import json

from ntk_eoc.pipeline.figures import TABLES, figures_for, figures_params

# Defined for study "limit" only (a min_eigen experiment has no concentration or spectrum stores).
if STUDY == "limit":
    ANALYSIS_FIGURES = figures_for(RUNS)
    FIGURE_OUTPUTS = {
        **{
            f"png_{name}": report(
                result(f"figures/{name}.png"),
                caption=f"../report/{name}.rst",
                category="Figures",
                labels={"figure": name},
            )
            for name in ANALYSIS_FIGURES
        },
        **{f"pdf_{name}": result(f"figures/{name}.pdf") for name in ANALYSIS_FIGURES},
        **{table.replace(".", "_"): result(f"tables/{table}") for table in TABLES},
    }
    FIGURE_OUTPUTS["claims_csv"] = report(
        result("tables/claims.csv"),
        caption="../report/claims.rst",
        category="Tables",
        labels={"table": "claims"},
    )

    rule figures:
        input:
            concentration=expand(rules.concentration.output[0], run=RUNS),
            spectrum=expand(rules.limit_spectrum.output[0], spectrum_id=SPECTRA),
        output:
            **FIGURE_OUTPUTS,
        log:
            log_path("figures/figures.log"),
        benchmark:
            bench_path("figures/figures.tsv")
        conda:
            "../../envs/ntk.yaml"
        params:
            cfg=json.dumps(figures_params(RUNS), sort_keys=True),
        shell:
            "python -m ntk_eoc.pipeline.figures --config {params.cfg:q} --concentration {input.concentration:q} --spectrum {input.spectrum:q} --output {output.claims_csv} --files {output:q} > {log} 2>&1"

    FINAL_TARGETS.extend(rules.figures.output)
