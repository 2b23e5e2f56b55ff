"""Stage figures: the experiment's figures, tidy tables and claims table, from every run's stores.

Reads the concentration store of every run and the spectrum stores of the experiment, puts the runs on
a grid whose dims are the swept keys (each run's typed swept values, from the spec), summarizes with
:mod:`ntk_eoc.analysis.stats`, draws with :mod:`ntk_eoc.analysis.plots` and writes the figures the plan
chose (:meth:`ntk_eoc.pipeline.plan.Plan.figure_names`) as ``figures/<figure>.{png,pdf}`` and the tables
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

from ...analysis import claims, plots, stats
from ...analysis.names import DEVIATION_VARS
from ...analysis.spectrum import condition_number
from ...math.activations import activation_from_config
from ...storage.store import open_store
from ..plan import TABLES
from ..specs import FiguresSpec
from . import parser, setup_logging

__all__ = ["draw_figures", "fixed_settings", "grid", "reference"]

# Swept key -> how a figure that does not show it picks its value.
REFERENCE = {
    "depth": max,
    "base_width": max,
    "output_dim": min,
    "schedule": lambda names: "quadratic" if "quadratic" in names else names[0],
}


def grid(stores: Sequence[xr.Dataset], axes: Sequence[Sequence[tuple[str, Any]]]) -> xr.Dataset:
    """Per-run datasets on one grid over the swept keys (``axes``: each run's typed (key, value) pairs in
    sweep order, from the plan); ValueError if it has holes."""
    parts = [ds.expand_dims({k: [v] for k, v in run_axes}) for ds, run_axes in zip(stores, axes, strict=True)]
    for part in parts:
        part.attrs = {}
    out = xr.combine_by_coords(parts, combine_attrs="drop", join="outer") if len(parts) > 1 else parts[0]
    cells = int(np.prod([out.sizes[d] for d in out.dims if d not in ("base_width", "draw")]))
    if cells != len(parts):
        raise ValueError(f"the {len(parts)} runs do not fill the grid {dict(out.sizes)}: sweep a full product")
    return out


def reference(obj, keep: Sequence[str]):
    """Fix every swept dim not in ``keep`` at its reference value (see module docstring)."""
    sel = {}
    for dim in obj.dims:
        if dim in keep or dim in ("draw", "statistic", "bound", "quantile", "eig"):
            continue
        pick = REFERENCE.get(dim)
        sel[dim] = pick(obj[dim].values.tolist()) if pick else obj[dim].values[0]
    return obj.sel(sel)


def _tidy(summary: xr.Dataset, names: Sequence[str]) -> pd.DataFrame:
    values = summary[list(names)].to_array("variable").to_series().unstack("bound").reset_index()
    return values[[c for c in values.columns if c not in ("tail_level", "tail_resolved")]]


def _kernel_spectra(conc: xr.Dataset, log) -> xr.Dataset:
    out = conc[["lambda_min", "lambda_max"]]
    cond = condition_number(out.lambda_min.values, out.lambda_max.values)
    if np.isfinite(cond).all():
        out = out.assign(cond=(out.lambda_min.dims, cond))
    else:
        log.warning(
            "cond(K(theta)) is infinite for %d draws (lambda_min <= 0): not summarized", (~np.isfinite(cond)).sum()
        )
    return out


def _json_attr(ds: xr.Dataset, name: str) -> dict[str, Any]:
    value = ds.attrs[name]
    return json.loads(value) if isinstance(value, str) else dict(value)


def _frame(ds: xr.Dataset) -> pd.DataFrame:
    """Tidy DataFrame of a Dataset, including a 0-d one (one row)."""
    if not ds.dims:
        return pd.DataFrame([{k: ds[k].item() for k in ds.variables}])
    return ds.to_dataframe().reset_index()


def _activations(stores: Sequence[xr.Dataset]) -> dict[str, Any]:
    """Activation objects by name, from the stores' config attrs."""
    acts = (activation_from_config(_json_attr(ds, "config")["activation"]) for ds in stores)
    return {act.name: act for act in acts}


def fixed_settings(core: dict[str, Any]) -> dict[str, Any]:
    """The settings of one run's config that a figure states when it holds them fixed (a swept key the
    figure fixes at its reference value overrides these through the data's scalar coords)."""
    dataset = core.get("dataset", {})
    return {
        "activation": core.get("activation", {}).get("name"),
        "schedule": core.get("schedule", {}).get("name"),
        "depth": core.get("depth"),
        "output_dim": core.get("output_dim"),
        "n_points": dataset.get("n_points"),
        "input_dim": dataset.get("input_dim"),
        "dataset": dataset.get("name"),
        "draws": core.get("draws"),
    }


def _bound_factor(acts: dict[str, Any], names: Sequence[str], depth: int, out_dims: Sequence[int]) -> xr.DataArray:
    """(Delta^-2 + sqrt(m_l) l) kappa^2 over (activation, output_dim), with each activation's Delta."""
    values = [[stats.theory_bound_factor(acts[a], depth, int(o)) for o in out_dims] for a in names]
    coords = {
        "activation": list(names),
        "output_dim": list(out_dims),
        "delta": ("activation", [acts[a].delta for a in names]),
    }
    return xr.DataArray(values, dims=("activation", "output_dim"), coords=coords)


def _infinite_cond_note(conc: xr.Dataset, keep: Sequence[str]) -> str:
    """Why the kernel_spectrum figure has no cond panel: the draws with lambda_min <= 0."""
    lam = reference(conc["lambda_min"], keep)
    return f"cond(K(θ)) not drawn: λ_min ≤ 0 (cond infinite) in {int((lam <= 0).sum())} of {lam.size} draws"


def _concentration_figures(names, summary, slopes, acts, core, cfg) -> dict[str, Any]:
    var, stat, fixed = cfg.figures.deviation, cfg.figures.statistic, fixed_settings(core)
    figs = {}
    keep = ("activation", "schedule", "base_width")
    if "deviation_vs_width" in names:
        figs["deviation_vs_width"] = plots.plot_deviation_vs_width(
            reference(summary, keep),
            var,
            stat,
            slopes=None if slopes is None else reference(slopes, keep),
            settings=fixed,
        )
    if "schedules" in names:
        figs["schedules"] = plots.plot_schedule_comparison(
            reference(summary, (*keep, "depth")), var, stat, settings=fixed
        )
    if "activations" in names:
        ref = reference(summary, ("activation", "base_width"))
        depth, out_dim = (int(ref[k]) if k in ref.coords else int(core[k]) for k in ("depth", "output_dim"))
        factor = _bound_factor(acts, ref.activation.values.tolist(), depth, [out_dim]).sel(output_dim=out_dim)
        figs["activations"] = plots.plot_activation_factor(ref, factor, var, stat, settings=fixed)
    if "output_dim" in names:
        ref = reference(summary, ("output_dim", "activation"))
        depth = int(ref["depth"]) if "depth" in ref.coords else int(core["depth"])
        factor = _bound_factor(acts, ref.activation.values.tolist(), depth, ref.output_dim.values.tolist())
        figs["output_dim"] = plots.plot_output_dimension(ref, var, stat, factor=factor, settings=fixed)
    return figs


def draw_figures(names, conc, summary, slopes, ksum, spec, acts, core, cfg) -> dict[str, Any]:
    """Every figure in ``names`` from the prepared datasets; returns name -> Figure.

    ``acts`` maps activation keys to :class:`Activation`; ``core`` is one run's config (depth, output_dim,
    schedule, dataset and draws where they are not swept: each figure states the settings it holds fixed).
    """
    var, stat, fixed = cfg.figures.deviation, cfg.figures.statistic, fixed_settings(core)
    figs = _concentration_figures(names, summary, slopes, acts, core, cfg)
    limit_settings = {k: fixed[k] for k in ("n_points", "input_dim", "dataset")}
    if "limit_spectrum" in names:
        figs["limit_spectrum"] = plots.plot_limit_spectrum(spec, settings=limit_settings)
    if "inverse_cosine" in names:
        figs["inverse_cosine"] = plots.plot_inverse_cosine_error(spec, settings=limit_settings)
    if "factorized" in names:
        rows = "dataset.input_dim" if "dataset.input_dim" in summary.dims else None
        keep_f = ("factorization", "base_width", *((rows,) if rows else ()))
        cost = reference(conc[["n_params", "seconds_per_draw", "limit_lambda_min"]], keep_f)
        figs["factorized"] = plots.plot_deviation_vs_cost(
            reference(summary, keep_f),
            reference(ksum, keep_f),
            cost,
            rows=rows,
            var=var,
            statistic=stat,
            settings=fixed,
        )
    if "kernel_spectrum" in names:
        limit = conc[["limit_lambda_min", "limit_lambda_max", "limit_cond"]]
        limit = limit.rename({k: k.removeprefix("limit_") for k in limit.data_vars})
        kept = ("activation", "base_width")
        names_k = [n for n in ("lambda_min", "lambda_max", "cond") if n in ksum]
        note = "" if "cond" in ksum else _infinite_cond_note(conc, (*kept, "draw"))
        figs["kernel_spectrum"] = plots.plot_kernel_spectrum_vs_width(
            reference(ksum, kept), reference(limit, kept), names=names_k, settings=fixed, note=note
        )
    return figs


def _cost_table(conc: xr.Dataset, summary: xr.Dataset, ksum: xr.Dataset, var: str, n_points: int) -> pd.DataFrame:
    """Per run cell and base width: parameters, forward FLOPs over the n points (2 n P), measured seconds
    per draw, mean deviation ``var`` and mean lambda_min(K(theta)) (empty without cost variables)."""
    if "n_params" not in conc:
        return pd.DataFrame()
    table = conc[["n_params", "seconds_per_draw"]].to_dataframe().reset_index()
    dev = summary[var].sel(statistic="mean", bound="value", drop=True).rename(f"mean_{var}")
    lam = ksum["lambda_min"].sel(statistic="mean", bound="value", drop=True).rename("mean_lambda_min")
    extra = xr.merge([dev, lam]).to_dataframe().reset_index()
    extra = extra[[c for c in extra.columns if c not in ("tail_level", "tail_resolved")]]
    table = table.merge(extra, on=[c for c in table.columns if c in extra.columns])
    n = table["dataset.n_points"] if "dataset.n_points" in table else n_points
    table.insert(table.columns.get_loc("n_params") + 1, "forward_flops", 2 * n * table["n_params"])
    return table


def _paths(files: Sequence[str]) -> tuple[dict[str, Path], dict[str, Path]]:
    """Figure stems by name (from the .png outputs) and table paths by file name."""
    paths = [Path(f) for f in files]
    figures = {p.stem: p.with_suffix("") for p in paths if p.suffix == ".png"}
    tables = {p.name: p for p in paths if p.name in TABLES}
    missing = sorted(set(TABLES) - set(tables))
    if missing:
        raise ValueError(f"figures stage: no output path for tables {missing}")
    return figures, tables


def main(argv: Sequence[str] | None = None) -> None:
    """Figures and tables of the experiment, written to the paths in ``--files``."""
    cli = parser(__doc__, FiguresSpec)
    cli.add_argument("--concentration", nargs="+", required=True, help="concentration stores, one per run")
    cli.add_argument("--spectrum", nargs="+", required=True, help="spectrum stores, one per activation")
    cli.add_argument("--files", nargs="+", required=True, help="every output: <figure>.png/.pdf and the tables")
    args = cli.parse_args(argv)
    log = setup_logging()
    began = time.perf_counter()
    cfg: FiguresSpec = args.spec
    figure_paths, table_paths = _paths(args.files)
    conc_settings = cfg.concentration
    boot = {"n_boot": conc_settings.n_boot, "seed": conc_settings.seed, "confidence": conc_settings.confidence}
    quantiles = list(cfg.concentration.quantiles)
    stores = [open_store(p) for p in args.concentration]
    conc = grid(stores, [axes for _, axes in cfg.runs]).load()
    summary = stats.summarize(conc[list(DEVIATION_VARS)], quantiles=quantiles, **boot)
    slopes = stats.fit_slopes(conc, cfg.figures.deviation, **boot) if conc.sizes["base_width"] > 1 else None
    if slopes is None:
        log.warning("one base width: no slopes fitted (tables/slopes.csv is empty)")
    ksum = stats.summarize(_kernel_spectra(conc, log), quantiles=quantiles, **boot)
    parts = [open_store(p).load() for p in args.spectrum]
    spec = xr.concat(parts, dim="activation", data_vars="all", coords="different", compat="equals", join="outer")
    table = claims.claims_table(conc, spec, var=cfg.concentration.claims_norm, **boot)
    _tidy(summary, DEVIATION_VARS).to_csv(table_paths["concentration_summary.csv"], index=False)
    (pd.DataFrame() if slopes is None else _frame(slopes)).to_csv(table_paths["slopes.csv"], index=False)
    names_k = [v for v in ("lambda_min", "lambda_max", "cond") if v in ksum]
    _tidy(ksum, names_k).to_csv(table_paths["kernel_spectrum_summary.csv"], index=False)
    _frame(spec.drop_vars("eigenvalues")).to_csv(table_paths["limit_spectrum.csv"], index=False)
    n_points = int(_json_attr(stores[0], "config")["dataset"]["n_points"])
    cost = _cost_table(conc, summary, ksum, cfg.figures.deviation, n_points)
    cost.to_csv(table_paths["cost.csv"], index=False)
    claims.write_claims(table, table_paths["claims.csv"], table_paths["claims.md"])
    log.info("claims:\n%s", claims.claims_markdown(table))
    core = _json_attr(stores[0], "config")
    figs = draw_figures(list(figure_paths), conc, summary, slopes, ksum, spec, _activations(stores), core, cfg)
    for name, stem in figure_paths.items():
        plots.save_figure(figs[name], stem, dpi=cfg.figures.dpi)
        log.info("figure %s written", name)
    log.info("figures stage done in %.1f s", time.perf_counter() - began)


if __name__ == "__main__":
    main()
