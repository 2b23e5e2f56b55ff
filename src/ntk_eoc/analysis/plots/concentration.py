"""Figures of the concentration statistics: deviation from K_inf against width, depth, activation,
output dimension and cost, and the extreme eigenvalues of K(theta) against width."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from .style import (
    CI_ALPHA,
    COLORS,
    FIGSIZE,
    band_lines,
    data_ticks,
    deviation_label,
    groups,
    reference_line,
    slope_text,
)


def plot_deviation_vs_width(
    summary: xr.Dataset,
    var: str = "op_rel",
    statistic: str = "mean",
    slopes: xr.Dataset | None = None,
    reference_slope: float = -0.5,
) -> Figure:
    """Deviation vs base width m on log-log axes, CI bands, and the predicted slope m^-1/2.

    ``slopes`` (:func:`ntk_eoc.analysis.stats.fit_slopes` over the same extra dims) adds the fitted slope and
    its CI to each legend entry.
    """
    stat = summary[var].sel(statistic=statistic)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    anchors = band_lines(ax, stat, "base_width", slope_text(slopes) if slopes is not None else None)
    reference_line(ax, anchors[0], stat.base_width.values, reference_slope, f"slope {reference_slope:g} (theory)")
    ax.set(xscale="log", yscale="log", xlabel="base width m", ylabel=deviation_label(var, statistic))
    data_ticks(ax, stat.base_width.values)
    ax.set_title("Concentration of K(θ) around K∞ (bands: bootstrap CI)")
    ax.legend(fontsize="small")
    return fig


def plot_schedule_comparison(
    summary: xr.Dataset, var: str = "op_rel", statistic: str = "mean", base_width: int | None = None
) -> Figure:
    """Deviation vs depth l at one base width (default: the largest), a line per schedule (and activation)."""
    stat = summary[var].sel(statistic=statistic)
    m = int(stat.base_width.max()) if base_width is None else base_width
    stat = stat.sel(base_width=m)
    if "schedule" in stat.dims:
        stat = stat.transpose("schedule", ...)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    band_lines(ax, stat, "depth")
    ax.set(yscale="log", xlabel="depth l", ylabel=deviation_label(var, statistic))
    data_ticks(ax, stat.depth.values)
    ax.set_title(f"Width schedules at equal base width m = {m}\n(theory: quadratic m_k = k² m concentrates best)")
    ax.legend(fontsize="small")
    return fig


def plot_activation_factor(
    summary: xr.Dataset, factor: xr.DataArray, var: str = "op_abs", statistic: str = "mean"
) -> Figure:
    """Deviation vs the theory factor (Delta^-2 + sqrt(m_l) l) kappa^2 across activations (log-log).

    The bound predicts deviation proportional to the factor at fixed m; the dotted guide has slope 1.
    ``factor`` has dim "activation"; one extra dim of ``summary`` (e.g. base_width) gives colours.
    """
    stat = summary[var].sel(statistic=statistic)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    anchor = None
    for label, style, sel in groups(stat, "activation", core=("bound",)):
        g = stat.sel(sel).transpose("activation", "bound")
        f = factor.sel(activation=g.activation).values
        y = g.sel(bound="value").values
        err = np.abs(g.sel(bound=["ci_low", "ci_high"]).values.T - y)
        ax.errorbar(f, y, yerr=err, fmt="o", capsize=3, label=label, color=style["color"])
        if anchor is None:
            anchor = (float(f.min()), float(y[np.argmin(f)]))
            for act, fx, yy in zip(g.activation.values, f, y, strict=True):
                ax.annotate(f" {act}", (fx, yy), fontsize="x-small")
    reference_line(ax, anchor, np.sort(factor.values), 1.0, "∝ theory factor")
    xlabel = "theory factor (Δ⁻² + √m_l · l) κ²"
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=deviation_label(var, statistic))
    ax.set_title("Activations across Δ against the bound's factor")
    ax.legend(fontsize="small")
    return fig


def plot_output_dimension(summary: xr.Dataset, var: str = "op_abs", statistic: str = "mean") -> Figure:
    """Deviation vs output dimension m_l (log-log), with the bound's sqrt(m_l) cost as a guide."""
    stat = summary[var].sel(statistic=statistic)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    anchors = band_lines(ax, stat, "output_dim")
    reference_line(ax, anchors[0], stat.output_dim.values, 0.5, "∝ √m_l (theory)")
    ax.set(xscale="log", yscale="log", xlabel="output dimension m_l", ylabel=deviation_label(var, statistic))
    data_ticks(ax, stat.output_dim.values)
    ax.set_title("Cost of the output dimension")
    ax.legend(fontsize="small")
    return fig


def plot_kernel_spectrum_vs_width(
    summary: xr.Dataset,
    limit: xr.Dataset,
    names: Sequence[str] = ("lambda_min", "lambda_max", "cond"),
    band: tuple[float, float] | None = None,
) -> Figure:
    """Median and a quantile band of lambda_min, lambda_max, cond of K(theta) across draws vs width.

    ``summary`` is :func:`ntk_eoc.analysis.stats.summarize` of
    :func:`ntk_eoc.analysis.spectrum.eigen_summary` over draws; ``limit`` the
    :func:`~ntk_eoc.analysis.spectrum.eigen_summary` of K_inf (drawn as a dashed line per group).
    ``band`` picks two quantile levels (default: the outermost available).
    """
    fig = Figure(figsize=(4.0 * len(names), 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names, strict=True):
        q = summary[f"{name}_quantile"]
        lo, hi = band or (float(q["quantile"].min()), float(q["quantile"].max()))
        med = summary[name].sel(statistic="median", bound="value")
        for k, (label, style, sel) in enumerate(groups(med, "base_width")):
            g, qs = med.sel(sel), q.sel(sel)
            ax.plot(g.base_width, g, marker="o", label=label or "K(θ) draws", **style)
            ax.fill_between(
                g.base_width, qs.sel(quantile=lo), qs.sel(quantile=hi), alpha=CI_ALPHA, color=style["color"]
            )
            level = float(limit[name].sel({d: v for d, v in sel.items() if d in limit[name].dims}))
            ax.axhline(level, ls="--", label="K∞" if k == 0 else None, **style)
        ax.set(xscale="log", xlabel="base width m", ylabel=f"{name} of K(θ)")
        data_ticks(ax, med.base_width.values)
        ax.set_title(f"{name}: median, {lo:g}-{hi:g} quantiles; dashed: K∞", fontsize="small")
    axes[0].legend(fontsize="small")
    return fig


_COST_AXES = (
    ("base_width", "base width m (equal width)"),
    ("n_params", "parameters (equal parameter count)"),
    ("seconds_per_draw", "measured seconds per NTK draw"),
)


def plot_deviation_vs_cost(
    summary: xr.Dataset,
    kernel_summary: xr.Dataset,
    cost: xr.Dataset,
    compare: str = "factorization",
    rows: str | None = None,
    var: str = "op_rel",
    statistic: str = "mean",
) -> Figure:
    """Deviation from the limit and lambda_min(K(theta)) against cost, one line per value of ``compare``.

    Columns: deviation vs base width m, vs parameter count and vs measured time per draw (``cost``
    variables ``n_params`` and ``seconds_per_draw`` over base_width), then mean lambda_min(K(theta)) vs
    parameter count with lambda_min(K_inf) dashed (``cost`` variable ``limit_lambda_min``, if present);
    one row per value of ``rows`` (e.g. the input dimension). Each network is compared with its own
    limit (a factorized layer counts twice in K_inf).
    """
    stat = summary[var].sel(statistic=statistic)
    lam = kernel_summary["lambda_min"].sel(statistic="mean")
    row_values = list(stat[rows].values) if rows else [None]
    fig = Figure(figsize=(4.0 * (len(_COST_AXES) + 1), 3.4 * len(row_values)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(row_values), len(_COST_AXES) + 1, squeeze=False))
    for r, row in enumerate(row_values):
        pick = {rows: row} if rows else {}
        dev, lmin, cst = stat.sel(pick), lam.sel(pick), cost.sel(pick)
        for c, (x_var, x_label) in enumerate((*_COST_AXES, ("n_params", "parameters"))):
            ax, data = axes[r, c], (lmin if c == len(_COST_AXES) else dev)
            for i, value in enumerate(data[compare].values):
                g = data.sel({compare: value}).transpose("base_width", "bound")
                x = g.base_width.values if x_var == "base_width" else cst[x_var].sel({compare: value}).values
                color = COLORS[i % len(COLORS)]
                ax.plot(x, g.sel(bound="value"), marker="o", color=color, label=f"{compare}={value}")
                ax.fill_between(x, g.sel(bound="ci_low"), g.sel(bound="ci_high"), alpha=CI_ALPHA, color=color)
                if c == len(_COST_AXES) and "limit_lambda_min" in cst:
                    ax.axhline(float(cst["limit_lambda_min"].sel({compare: value})), color=color, ls="--", lw=1)
            ax.set(xscale="log", xlabel=x_label)
            ax.xaxis.set_minor_formatter(NullFormatter())
            if x_var == "base_width" and c == 0:
                data_ticks(ax, dev.base_width.values)
            if c < len(_COST_AXES):
                norm = var.split("_")[0]
                rel = f" / ||K∞||_{norm}" if var.endswith("_rel") else ""
                ax.set(yscale="log", ylabel=f"{statistic} ||K(θ) - K∞||_{norm}{rel}" if c == 0 else None)
            else:
                ax.set(ylabel="mean λ_min(K(θ)); dashed: λ_min(K∞)")
            if row is not None:
                ax.set_title(f"{rows} = {row}", fontsize="small")
        axes[r, 0].legend(fontsize="x-small")
    fig.suptitle("Dense vs factorized layers: deviation from each network's K∞ against width, parameters and time")
    return fig
