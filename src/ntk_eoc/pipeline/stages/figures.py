"""Stage figures: the experiment's figures, tidy tables and claims table, from every run's stores.

Reads the concentration store of every run and the spectrum stores of the experiment, puts the runs on
a grid whose dims are the swept keys (each run's typed swept values, from the spec), summarizes with
:mod:`ntk_eoc.analysis.stats`, draws with :mod:`ntk_eoc.analysis.plots` and writes the files the spec
names: the figures the plan chose (:meth:`ntk_eoc.pipeline.plan.Plan.figure_names`) as
``figures/<figure>.{png,pdf}`` and the tables
``tables/{concentration_summary, slopes, kernel_spectrum_summary, limit_spectrum, cost, claims}.csv``
plus ``tables/claims.md``.

A figure shows at most two swept keys at once; every other swept key is fixed at a reference value:
the largest ``depth`` and ``base_width``, the smallest ``output_dim``, the ``quadratic`` schedule (if
swept), the first value of any other key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ...analysis.first_order_curve import PREDICTED_SUFFIX
from ..specs import FiguresSpec
from . import parser, setup_logging

__all__: list[str] = []


def _json_attr(ds: xr.Dataset, name: str) -> dict[str, Any]:
    value = ds.attrs[name]
    return json.loads(value) if isinstance(value, str) else dict(value)


def _settings(core: dict[str, Any], acts: dict[str, Any]) -> dict[str, Any]:
    """The run settings every claim row reads where they are not swept (scalar coordinates)."""
    return {
        "activation": next(iter(acts)) if len(acts) == 1 else None,
        "schedule": core["schedule"]["name"],
        "depth": core["depth"],
        "output_dim": core["output_dim"],
    }


def _predicted(cfg: FiguresSpec, paths: Sequence[str], base_widths: np.ndarray, boot: dict) -> xr.Dataset | None:
    """The first-order predictions (SCIENCE §6.1) of the predicted runs on the runs' grid (NaN elsewhere)."""
    from ...analysis.first_order_curve import predicted_summary
    from ...analysis.names import DEVIATION_VARS
    from ...storage.store import open_store

    if not paths:
        return None
    axes = dict(cfg.runs)
    summaries: dict[str, xr.Dataset] = {}  # runs of one network (depth 2 of every schedule) share its store
    parts = []
    for rid, path in zip(cfg.first_order_runs, paths, strict=True):
        if path not in summaries:
            summaries[path] = predicted_summary(
                open_store(path), base_widths, DEVIATION_VARS, seed=boot["seed"], confidence=boot["confidence"]
            ).drop_vars("tail_resolved")
        parts.append(summaries[path].expand_dims({k: [v] for k, v in axes[rid]}))
    return xr.combine_by_coords(parts, join="outer", combine_attrs="drop") if len(parts) > 1 else parts[0]


def main(argv: Sequence[str] | None = None) -> None:
    """Figures and tables of the experiment, written to the paths the spec names."""
    from ...analysis import plots, stats, tables
    from ...analysis.claims import table as claims
    from ...analysis.figures import draw_figures
    from ...analysis.grid import grid, with_settings
    from ...analysis.names import DEVIATION_VARS
    from ...analysis.spectrum import SINGULAR_FACTOR
    from ...math.activations import activation_from_config
    from ...storage.store import open_store
    from ...storage.view_manifest import write_view_manifest

    cli = parser(__doc__, FiguresSpec)
    cli.add_argument("--concentration", nargs="+", required=True, help="concentration stores, one per run")
    cli.add_argument("--fluctuations", nargs="*", default=[], help="fluctuation stores, one per run (or none)")
    cli.add_argument("--first-order", nargs="*", default=[], help="first-order stores, one per predicted run")
    cli.add_argument("--spectrum", nargs="+", required=True, help="spectrum stores, one per activation")
    cli.add_argument("--threads", type=int, default=1, help="threads of the bootstrap summaries")
    cli.add_argument("--configs", nargs="+", required=True, help="the view's run configs (listed in the manifest)")
    cli.add_argument("--manifest", required=True, help="the view's MANIFEST.json, written last")
    args = cli.parse_args(argv)
    log, began, cfg = setup_logging(), time.perf_counter(), args.spec
    figure_paths = {name: Path(stem) for name, stem in cfg.figure_files}
    table_paths = {name: Path(path) for name, path in cfg.table_files}
    c = cfg.concentration
    boot = {"n_boot": c.n_boot, "seed": c.seed, "confidence": c.confidence}
    stores = [open_store(p) for p in args.concentration]
    core = cfg.config
    acts = {a.name: a for a in (activation_from_config(_json_attr(ds, "config")["activation"]) for ds in stores)}
    axes = [run_axes for _, run_axes in cfg.runs]
    conc = with_settings(grid(stores, axes).load(), _settings(core, acts))
    fluct = (
        with_settings(grid([open_store(p).load() for p in args.fluctuations], axes), _settings(core, acts))
        if args.fluctuations
        else None
    )
    summary = stats.summarize(conc[list(DEVIATION_VARS)], quantiles=list(c.quantiles), workers=args.threads, **boot)
    predicted = _predicted(cfg, args.first_order, conc.base_width.values, boot)
    if predicted is not None:
        summary = xr.merge([summary, predicted], compat="no_conflicts", join="left", combine_attrs="override")
        log.info("first-order predictions for %d of %d runs", len(args.first_order), len(cfg.runs))
    # one fit range per curve: the claims' (m >= claims.m_min) wherever it keeps two widths
    fitted = int((conc.base_width >= cfg.claims.m_min).sum())
    min_width = cfg.claims.m_min if fitted >= 2 else None
    fit = conc.sizes["base_width"] > 1
    slopes = stats.fit_slopes(conc, cfg.figures.deviation, min_width=min_width, **boot) if fit else None
    size = int(core["dataset"]["n_points"]) * int(core["output_dim"])
    eps = float(np.finfo(core["sampler"]["dtype"]).eps)
    kernel_spectra, singular = tables.kernel_spectra(conc, size, eps)
    counts = tables.singular_counts(conc, singular)
    if singular.any():
        per_width = (
            singular.sum([d for d in singular.dims if d != "base_width"]) if "base_width" in singular.dims else None
        )
        where = "" if per_width is None else " (" + ", ".join(
            f"m={int(m)}: {int(k)}" for m, k in zip(per_width.base_width.values, per_width.values, strict=True) if k
        ) + ")"  # fmt: skip
        totals = counts.groupby("variable").value.sum()
        dead = int(totals["dead_input_draws"])
        log.info(
            "cond(K(theta)): %d draws singular%s: %d with a dead input (K_ii = 0), %d by rank alone (lambda_min "
            "<= %g eps N lambda_max); cond summarized over the other draws of each cell",
            int(singular.sum()), where, dead, int(singular.sum()) - dead, SINGULAR_FACTOR,
        )  # fmt: skip
    spectra_kw = {"quantiles": list(c.quantiles), "workers": args.threads, **boot}
    ksum = xr.merge([
        stats.summarize(kernel_spectra[["lambda_min", "lambda_max"]], **spectra_kw),
        stats.summarize(kernel_spectra[["cond"]], exclude=singular, **spectra_kw),
    ], compat="no_conflicts", join="exact")  # fmt: skip
    parts = [open_store(p).load() for p in args.spectrum]
    spec = xr.concat(parts, dim="activation", data_vars="all", coords="different", compat="equals", join="outer")
    table = claims.claims_table(
        conc, spec, fluct, var=c.claims_norm, activations=acts, summary=summary, **boot, **cfg.claims.config()
    )  # fmt: skip
    summary_vars = [*DEVIATION_VARS, *(v for v in summary.data_vars if v.endswith(PREDICTED_SUFFIX))]
    summary_table = tables.tidy(summary, summary_vars).dropna(subset=["value"])  # cells without a prediction
    summary_table.to_csv(table_paths["concentration_summary.csv"], index=False)
    if slopes is not None:  # the fitted widths beside every slope, as in the figure's legend
        span = {"fit_m_min": slopes.attrs["widths"][0], "fit_m_max": slopes.attrs["widths"][-1]}
    slope_table = pd.DataFrame() if slopes is None else tables.frame(slopes).assign(**span)
    slope_table.to_csv(table_paths["slopes.csv"], index=False)
    names_k = [v for v in ("lambda_min", "lambda_max", "cond") if v in ksum]
    ktable = pd.concat([tables.tidy(ksum, names_k), counts], ignore_index=True)
    ktable.to_csv(table_paths["kernel_spectrum_summary.csv"], index=False)
    tables.frame(spec.drop_vars("eigenvalues")).to_csv(table_paths["limit_spectrum.csv"], index=False)
    cost = tables.cost_table(conc, summary, ksum, cfg.figures.deviation, int(core["dataset"]["n_points"]))
    cost.to_csv(table_paths["cost.csv"], index=False)
    fluct_table = pd.DataFrame() if fluct is None else tables.frame(fluct.drop_vars(["v_diag_boot", "v_diag_jack"]))
    fluct_table.to_csv(table_paths["fluctuations.csv"], index=False)
    claims.write_claims(table, table_paths["claims.csv"], table_paths["claims.md"])
    log.info("claims:\n%s", claims.claims_markdown(table))
    figs = draw_figures(list(figure_paths), conc, summary, slopes, ksum, spec, fluct, acts, core, cfg)
    for name, stem in figure_paths.items():
        plots.save_figure(figs[name], stem, dpi=cfg.figures.dpi)
        log.info("figure %s written", name)
    images = [f"{stem}{suffix}" for stem in figure_paths.values() for suffix in (".png", ".pdf")]
    written = [*args.configs, *table_paths.values(), *images]
    write_view_manifest(args.manifest, written, "figures", cfg.view)
    log.info("figures stage done in %.1f s", time.perf_counter() - began)


if __name__ == "__main__":
    main()
