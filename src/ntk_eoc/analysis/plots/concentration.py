"""Figures of the concentration statistics: deviation from K_inf against width, depth, activation,
output dimension and cost, and the extreme eigenvalues of K(theta) against width.

Every function takes ``settings``: the run settings the figure holds fixed (keys of
:data:`~ntk_eoc.analysis.plots.style.SETTING_LABELS`, e.g. depth, output_dim, schedule, n_points,
input_dim, draws), stated in its title together with the scalar coords of the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..first_order_curve import predicted_name
from .style import (
    CI_ALPHA,
    FIGSIZE,
    GUIDE,
    band_lines,
    data_ticks,
    deviation_label,
    finish_log_axes,
    group_label,
    groups,
    log_ticks,
    prediction_lines,
    reference_line,
    settings_text,
    slope_text,
    title,
    with_fixed,
)

Settings = Mapping[str, Any] | None


def _ci_text(summary: xr.Dataset) -> str:
    level = summary.attrs.get("confidence")
    return f"bands: {level:.0%} bootstrap CI" if level else "bands: bootstrap CI"


def plot_deviation_vs_width(
    summary: xr.Dataset,
    var: str = "op_rel",
    statistic: str = "mean",
    slopes: xr.Dataset | None = None,
    reference_slope: float = -0.5,
    settings: Settings = None,
) -> Figure:
    """Deviation vs base width m on log-log axes, CI bands, and the predicted slope m^-1/2 (dotted).

    ``slopes`` (:func:`ntk_eoc.analysis.stats.fit_slopes` over the same extra dims) adds the fitted slope and
    its CI to each legend entry. Where ``summary`` has ``<var>_first_order`` (:mod:`..first_order_curve`),
    each curve's first-order prediction is drawn beside it (thin, x markers; SCIENCE §6.1).
    """
    stat = with_fixed(summary[var].sel(statistic=statistic), settings)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    anchors = band_lines(ax, stat, "base_width", slope_text(slopes) if slopes is not None else None)
    predicted = predicted_name(var)
    if predicted in summary:
        prediction_lines(ax, with_fixed(summary[predicted].sel(statistic=statistic), settings), "base_width")
    reference_line(ax, anchors[0], stat.base_width.values, reference_slope, f"slope {reference_slope:g} (theory)")
    ax.set(xscale="log", yscale="log", xlabel="base width m", ylabel=deviation_label(var, statistic))
    heading = f"Concentration of K(θ) around K∞ ({_ci_text(summary)})"
    finish_log_axes(ax, stat.base_width.values, heading, settings_text(stat, settings))
    return fig


def plot_schedule_comparison(
    summary: xr.Dataset,
    var: str = "op_rel",
    statistic: str = "mean",
    base_width: int | None = None,
    settings: Settings = None,
) -> Figure:
    """Deviation vs depth l at one base width (default: the largest), a line per schedule (and activation),
    with each curve's first-order prediction (x) where ``summary`` has it."""
    stat = summary[var].sel(statistic=statistic)
    m = int(stat.base_width.max()) if base_width is None else base_width
    stat = with_fixed(stat.sel(base_width=m), settings)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    band_lines(ax, stat, "depth")
    if predicted_name(var) in summary:
        pred = summary[predicted_name(var)].sel(statistic=statistic, base_width=m)
        prediction_lines(ax, with_fixed(pred, settings), "depth")
    ax.set(yscale="log", xlabel="depth l", ylabel=deviation_label(var, statistic))
    head = "Width schedules at equal base width (theory: quadratic m_k = k² m concentrates best)"
    finish_log_axes(ax, stat.depth.values, head, settings_text(stat, settings))
    return fig


def _factor_label(factor: xr.DataArray, act: str) -> str:
    one = factor.sel(activation=act)
    parts = [f"Δ = {float(one.delta):.2g}"] if "delta" in one.coords else []
    parts.append(f"factor {float(one):.3g} (×{float(one) / float(factor.min()):.2f})")
    return f"{act}: " + ", ".join(parts)


def plot_activation_factor(
    summary: xr.Dataset,
    factor: xr.DataArray,
    var: str = "op_abs",
    statistic: str = "mean",
    settings: Settings = None,
) -> Figure:
    """Deviation per activation against base width m (left), and the same divided by the bound's factor
    (Delta^-2 + sqrt(m_l) l) kappa^2 (right), log-log with CI bands.

    The bound predicts deviation at most proportional to the factor at fixed m: if that activation
    dependence were tight, the right panel's lines would coincide. The legend gives each factor and its
    ratio to the smallest. ``factor`` has dim "activation" (optional coord "delta"); ``summary`` has
    dims activation and base_width (a single base width may be a scalar coord).
    """
    stat = summary[var].sel(statistic=statistic)
    if "base_width" not in stat.dims:
        stat = stat.expand_dims("base_width")
    stat = with_fixed(stat.transpose("activation", "base_width", ...), settings)
    fig = Figure(figsize=(11.0, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2, sharex=True)
    f = factor.sel(activation=stat.activation)
    band_lines(left, stat, "base_width")
    band_lines(right, stat / f, "base_width")
    labels = [_factor_label(factor, str(a)) for a in stat.activation.values]
    for ax, ylabel in ((left, deviation_label(var, statistic)), (right, "the same / bound factor")):
        ax.set(xscale="log", yscale="log", xlabel="base width m", ylabel=ylabel)
        data_ticks(ax, stat.base_width.values)
        log_ticks(ax)
    left.legend(left.get_lines(), labels, fontsize="small", title="(Δ⁻² + √m_l · l) κ²", title_fontsize="small")
    left.set_title("measured deviation", fontsize="small")
    right.set_title("divided by the bound's factor: equal if the factor's Δ, κ dependence is tight", fontsize="small")
    title(
        fig,
        f"Activations against the concentration bound's factor ({_ci_text(summary)})",
        settings_text(stat, settings),
    )
    return fig


def plot_output_dimension(
    summary: xr.Dataset,
    var: str = "op_abs",
    statistic: str = "mean",
    factor: xr.DataArray | None = None,
    settings: Settings = None,
) -> Figure:
    """Deviation vs output dimension m_l (log-log), with the bound's own dependence as a guide.

    ``factor`` (dims output_dim and activation): (Delta^-2 + sqrt(m_l) l) kappa^2, drawn dotted per
    activation through its first point; the bound is compared with this factor, never with sqrt(m_l)
    alone (SCIENCE §4.1). Without ``factor`` no guide is drawn.
    """
    stat = with_fixed(summary[var].sel(statistic=statistic), settings)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    band_lines(ax, stat, "output_dim")
    if factor is not None:
        for k, (_, style, sel) in enumerate(groups(stat, "output_dim", core=("bound",))):
            f = factor.sel({d: v for d, v in sel.items() if d in factor.dims}).sel(output_dim=stat.output_dim)
            y0 = float(stat.sel(sel).sel(bound="value").isel(output_dim=0))
            label = "∝ (Δ⁻² + √m_l · l) κ² (bound)" if k == 0 else None
            ax.plot(stat.output_dim, y0 * f / f.isel(output_dim=0), **{**GUIDE, "color": style["color"]}, label=label)
    ax.set(xscale="log", yscale="log", xlabel="output dimension m_l", ylabel=deviation_label(var, statistic))
    heading = f"Cost of the output dimension ({_ci_text(summary)})"
    finish_log_axes(ax, stat.output_dim.values, heading, settings_text(stat, settings))
    return fig


def _spectrum_panel(ax: Axes, summary: xr.Dataset, limit: xr.Dataset, name: str, band) -> None:
    q = summary[f"{name}_quantile"]
    lo, hi = band or (float(q["quantile"].min()), float(q["quantile"].max()))
    med = summary[name].sel(statistic="median", bound="value")
    for k, (label, style, sel) in enumerate(groups(med, "base_width")):
        g, qs = med.sel(sel), q.sel(sel)
        ax.plot(g.base_width, g, **{"marker": "o", **style}, label=label or "K(θ) draws")
        ax.fill_between(g.base_width, qs.sel(quantile=lo), qs.sel(quantile=hi), alpha=CI_ALPHA, color=style["color"])
        level = float(limit[name].sel({d: v for d, v in sel.items() if d in limit[name].dims}))
        ax.axhline(level, **{**GUIDE, "color": style["color"]}, label="K∞" if k == 0 else None)
    ax.set(xscale="log", xlabel="base width m", ylabel=f"{name} of K(θ)")
    data_ticks(ax, med.base_width.values)
    ax.set_title(f"{name}: median, {lo:g}-{hi:g} quantiles; dotted: K∞", fontsize="small")


def plot_kernel_spectrum_vs_width(
    summary: xr.Dataset,
    limit: xr.Dataset,
    names: Sequence[str] = ("lambda_min", "lambda_max", "cond"),
    band: tuple[float, float] | None = None,
    settings: Settings = None,
    note: str = "",
) -> Figure:
    """Median and a quantile band of lambda_min, lambda_max, cond of K(theta) across draws vs width.

    ``summary`` is :func:`ntk_eoc.analysis.stats.summarize` of
    :func:`ntk_eoc.analysis.spectrum.eigen_summary` over draws; ``limit`` the
    :func:`~ntk_eoc.analysis.spectrum.eigen_summary` of K_inf (dotted, one level per group).
    ``band`` picks two quantile levels (default: the outermost available); ``note`` is added to the
    title (e.g. why the cond panel is missing).
    """
    summary = with_fixed(summary, settings)
    fig = Figure(figsize=(4.0 * len(names), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names, strict=True):
        _spectrum_panel(ax, summary, limit, name, band)
    axes[0].legend(fontsize="small")
    head = "Extreme eigenvalues of K(θ) across draws against base width"
    subtitle = settings_text(summary[names[0]].sel(statistic="median", bound="value"), settings)
    title(fig, head + (f"\n{note}" if note else ""), subtitle)
    return fig


_COST_AXES = (
    ("base_width", "base width m (equal width)"),
    ("n_params", "parameters (equal parameter count)"),
    ("seconds_per_draw", "measured seconds per NTK draw"),
)


def _cost_panel(ax: Axes, data: xr.DataArray, cost: xr.Dataset, x_var: str, limit: bool) -> None:
    """One line (with CI band) per network against ``x_var``; dotted lambda_min(K_inf) if ``limit``."""
    for label, style, sel in groups(data, "base_width", core=("bound",)):
        g = data.sel(sel).transpose("base_width", "bound")
        at = {k: v for k, v in sel.items() if k in cost.dims}
        x = g.base_width.values if x_var == "base_width" else cost[x_var].sel(at).values
        ax.plot(x, g.sel(bound="value"), **{"marker": "o", **style}, label=label)
        ax.fill_between(x, g.sel(bound="ci_low"), g.sel(bound="ci_high"), alpha=CI_ALPHA, color=style["color"])
        if limit and "limit_lambda_min" in cost:
            ax.axhline(float(cost["limit_lambda_min"].sel(at)), **{**GUIDE, "color": style["color"], "lw": 1})
    ax.set(xscale="log")


def plot_deviation_vs_cost(
    summary: xr.Dataset,
    kernel_summary: xr.Dataset,
    cost: xr.Dataset,
    compare: str = "factorization",
    rows: str | None = None,
    var: str = "op_rel",
    statistic: str = "mean",
    settings: Settings = None,
) -> Figure:
    """Deviation from the limit and lambda_min(K(theta)) against cost, one line per value of ``compare``.

    Columns: deviation vs base width m, vs parameter count and vs measured time per draw (``cost``
    variables ``n_params`` and ``seconds_per_draw`` over base_width), then mean lambda_min(K(theta)) vs
    parameter count with lambda_min(K_inf) dotted (``cost`` variable ``limit_lambda_min``, if present);
    one row per value of ``rows`` (e.g. the input dimension). Each network is compared with its own
    limit (a factorized layer counts twice in K_inf). Values of ``compare`` are told apart by marker and
    shade of the activation's colour.
    """
    if compare not in summary.dims:
        raise ValueError(
            f"plot_deviation_vs_cost: summary has no dim {compare!r} to compare (dims {list(summary.dims)})"
        )
    stat = with_fixed(summary[var].sel(statistic=statistic), settings)
    lam = with_fixed(kernel_summary["lambda_min"].sel(statistic="mean"), settings)
    row_values = list(stat[rows].values) if rows else [None]
    fig = Figure(figsize=(4.0 * (len(_COST_AXES) + 1), 3.4 * len(row_values) + 0.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(row_values), len(_COST_AXES) + 1, squeeze=False))
    norm = var.split("_")[0]
    rel = f" / ||K∞||_{norm}" if var.endswith("_rel") else ""
    for r, row in enumerate(row_values):
        pick = {rows: row} if rows else {}
        for c, (x_var, x_label) in enumerate((*_COST_AXES, ("n_params", "parameters"))):
            ax, last = axes[r, c], c == len(_COST_AXES)
            _cost_panel(ax, (lam if last else stat).sel(pick), cost.sel(pick), x_var, last)
            ax.set(xlabel=x_label, yscale="linear" if last else "log")
            ax.set_ylabel("mean λ_min(K(θ)); dotted: λ_min(K∞)" if last else f"{statistic} ||K(θ) - K∞||_{norm}{rel}")
            if x_var == "base_width":
                data_ticks(ax, stat.base_width.values)
            log_ticks(ax)
            if row is not None:
                ax.set_title(group_label({rows: row}), fontsize="small")
        axes[r, 0].legend(fontsize="x-small")
    head = "Dense vs factorized layers: deviation from each network's K∞ against width, parameters and time"
    title(fig, head, settings_text(stat, settings))
    return fig
