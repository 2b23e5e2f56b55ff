"""The figures of a limit-study experiment: which figure shows which slice of the prepared data.

Inputs are what the figures stage prepares from the stores: ``conc`` (per-draw deviations on the grid of
runs, :mod:`.grid`), its ``summary`` and ``slopes`` (:mod:`.stats`), ``ksum`` (summaries of the extreme
eigenvalues of K(theta)), ``spec`` (the limit spectrum over activation), ``fluct`` (the fluctuation
summaries on the grid, :mod:`.fluctuations`), the activations by name, and one run's config ``core`` for
the settings every figure states when it holds them fixed. Drawing is :mod:`.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr

from . import plots
from .fluctuations import predicted_curves
from .grid import reference
from .stats import theory_bound_factor

__all__ = ["draw_figures", "fixed_settings"]


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
    values = [[theory_bound_factor(acts[a], depth, int(o)) for o in out_dims] for a in names]
    coords = {
        "activation": list(names),
        "output_dim": list(out_dims),
        "delta": ("activation", [acts[a].delta for a in names]),
    }
    return xr.DataArray(values, dims=("activation", "output_dim"), coords=coords)


def _singular_note(ksum: xr.Dataset) -> str:
    """What the cond panel leaves out: the numerically singular draws (``n_used`` of ``n_draws`` per cell)."""
    if "n_used" not in ksum:
        return ""
    left = int((ksum["n_draws"] - ksum["n_used"]).sum())
    return f"cond(K(θ)) over the non-singular draws: {left} singular draws left out (λ_min ≈ 0)" if left else ""


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


def draw_figures(names, conc, summary, slopes, ksum, spec, fluct, acts, core, cfg) -> dict[str, Any]:
    """Every figure in ``names`` from the prepared datasets (module doc); returns name -> Figure.

    ``acts`` maps activation names to :class:`~ntk_eoc.math.activations.Activation`; ``core`` is one run's
    config; ``cfg`` carries the figure settings (``cfg.figures``) and claim margins (``cfg.claims``).
    """
    var, stat, fixed = cfg.figures.deviation, cfg.figures.statistic, fixed_settings(core)
    figs = _concentration_figures(names, summary, slopes, acts, core, cfg)
    figs.update(_fluctuation_figures(names, fluct, acts, cfg))
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
        note = _singular_note(reference(ksum, kept))
        figs["kernel_spectrum"] = plots.plot_kernel_spectrum_vs_width(
            reference(ksum, kept), reference(limit, kept), names=names_k, settings=fixed, note=note
        )
    return figs


def _fluctuation_figures(names, fluct: xr.Dataset, acts: Mapping[str, Any], cfg) -> dict[str, Any]:
    """The law figure (every configuration) and V_diag against depth at the largest base width."""
    figs = {}
    if "fluctuations" in names:
        figs["fluctuations"] = plots.plot_fluctuation_law(fluct, margin=cfg.claims.fluctuation_margin)
    if "fluctuations_depth" in names:
        one = reference(fluct, ("activation", "schedule", "depth"))
        labels = one.activation.values.tolist() if "activation" in one.dims else [one.activation.item()]
        depths = range(int(one.depth.min()), int(one.depth.max()) + 1)
        curves = predicted_curves(labels, int(one.base_width), depths, activation_map=acts)
        figs["fluctuations_depth"] = plots.plot_fluctuations_vs_depth(one, curves)
    return figs
