"""Figures of the finite-width fluctuation law (SCIENCE §6): Dataset in, ``matplotlib.figure.Figure`` out.

Inputs are :func:`ntk_eoc.analysis.fluctuations.fluctuation_summary` (measured V_diag with CIs beside the
product form, over any of activation, schedule, depth, base_width) and, for the depth figure,
:func:`ntk_eoc.analysis.fluctuations.predicted_curves` (the law evaluated at every depth). Nothing here
computes a statistic; every title states the fixed settings of what is drawn.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import FIGSIZE, MARKERS, activation_colors, log_ticks, schedule_linestyle, title

__all__ = ["plot_fluctuation_law", "plot_fluctuations_vs_depth"]

LAW_LABEL = "Π_k (1 + w(k/l)/m_k) − 1"
V_LABEL = "V_diag = Var(K_ii) / E[K_ii]²"


def _values(summary: xr.Dataset, name: str) -> list:
    """The values of a setting: its dim values, a scalar coordinate as one value, or [None]."""
    if name in summary.dims:
        return summary[name].values.tolist()
    if name in summary.coords:
        return [summary[name].item()]
    return [None]


def _settings(summary: xr.Dataset) -> str:
    """'depth l = 3, 5; base width m = 16, 64' and, on a second line, draws and CI, from coords and attrs."""
    parts, sampling = [], []
    for name, symbol in (("depth", "depth l"), ("output_dim", "output dim m_l"), ("base_width", "base width m")):
        values = [v for v in _values(summary, name) if v is not None]
        if values:
            parts.append(f"{symbol} = {', '.join(str(v) for v in values)}")
    if "n_draws" in summary:
        counts = sorted({int(n) for n in np.ravel(summary.n_draws.values)})
        span = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        sampling.append(f"{span} draws per configuration")
    conf, boot = summary.attrs.get("confidence"), summary.attrs.get("n_boot")
    if conf is not None and boot is not None:
        sampling.append(f"bars: {conf:.0%} bootstrap CI over draws (B = {boot})")
    return "\n".join(line for line in ("; ".join(parts), "; ".join(sampling)) if line)


def _groups(summary: xr.Dataset) -> Iterator[tuple[str, dict, dict]]:
    """(label, style, selection) per (schedule, activation): colour by activation (as in every figure),
    marker by schedule."""
    schedules, activations = _values(summary, "schedule"), _values(summary, "activation")
    colors = activation_colors(str(a) for a in activations)
    for i, sched in enumerate(schedules):
        for act in activations:
            sel = {k: v for k, v in (("schedule", sched), ("activation", act)) if k in summary.dims}
            label = ", ".join(str(v) for v in (act, sched) if v is not None) or None
            yield label, {"color": colors[str(act)], "marker": MARKERS[i % len(MARKERS)]}, sel


def plot_fluctuation_law(summary: xr.Dataset, margin: float | None = None) -> Figure:
    """Measured V_diag against the product form for every configuration, one log-log panel.

    Points carry vertical CI bars; the identity line is solid, and ``margin`` (relative, e.g. the claims
    table's) adds the band predicted x (1 +- margin) dashed. Colour: activation; marker: schedule.
    """
    fig = Figure(figsize=(FIGSIZE[0], FIGSIZE[1] + 0.6), layout="constrained")
    ax = fig.subplots()
    lows, highs = [], []
    for label, style, sel in _groups(summary):
        one = summary.sel(sel)
        x, y = np.ravel(one.v_diag_pred.values), np.ravel(one.v_diag.values)
        low, high = np.ravel(one.v_diag_ci_low.values), np.ravel(one.v_diag_ci_high.values)
        ax.errorbar(x, y, yerr=[y - low, high - y], ls="none", capsize=3, label=label, **style)
        lows.append(min(x.min(), low.min()))
        highs.append(max(x.max(), high.max()))
    line = np.geomspace(min(lows) / 1.2, max(highs) * 1.2, 50)
    ax.plot(line, line, "k-", lw=1, label="measured = predicted")
    if margin is not None:
        for sign in (-1, 1):
            ax.plot(line, line * (1 + sign * margin), "k--", lw=0.8, label=f"± {margin:.0%}" if sign > 0 else None)
    ax.set(xscale="log", yscale="log", xlabel=f"predicted {LAW_LABEL}", ylabel=f"measured {V_LABEL}")
    log_ticks(ax)
    title(ax, "Finite-width fluctuations of the NTK diagonal: measured vs product form", _settings(summary))
    ax.legend(fontsize="small")
    return fig


def _measured_vs_depth(ax: Axes, one: xr.Dataset, schedules: list, color: str) -> None:
    for k, sched in enumerate(schedules):
        pick = one.sel(schedule=sched) if "schedule" in one.dims else one
        y = pick.v_diag.values
        err = [y - pick.v_diag_ci_low.values, pick.v_diag_ci_high.values - y]
        ax.errorbar(pick.depth.values, y, yerr=err, ls="none", marker=MARKERS[k % len(MARKERS)], capsize=3,
                    color=color, label=f"{sched}: measured")  # fmt: skip


def _curves(ax: Axes, curves: xr.Dataset, schedules: list, color: str, activation: str) -> None:
    for sched in schedules:
        if sched in curves.schedule.values:
            c = curves.v_diag_pred.sel(schedule=sched)
            ax.plot(curves.depth, c, color=color, ls=schedule_linestyle(sched), label=f"{sched}: product form")
    if "constant" in schedules and "constant" in curves.schedule.values:
        ax.plot(curves.depth, curves.v_dsum_pred.sel(schedule="constant"), color=color, ls=(0, (5, 1, 1, 1)), lw=1.2,
                label="constant: V_dsum (independent-layer sum)")  # fmt: skip
        if activation == "relu":
            ax.plot(curves.depth, curves.hanin_nica.sel(schedule="constant"), color="0.4", ls=(0, (1, 1)), lw=1,
                    label="constant, reference: Hanin–Nica e^{5β} − 1 (ReLU)")  # fmt: skip
    ax.axhline(float(curves.quadratic_limit), color="0.4", ls="--", lw=1,
               label="quadratic l → ∞: sinh(π√(C/m))/(π√(C/m)) − 1 ≈ Cπ²/6m")  # fmt: skip


def plot_fluctuations_vs_depth(summary: xr.Dataset, curves: xr.Dataset) -> Figure:
    """V_diag against depth at one base width, a line per schedule, one panel per activation (log y).

    ``summary`` must be at one base width (select it first) with dims depth and schedule; ``curves`` is
    :func:`~ntk_eoc.analysis.fluctuations.predicted_curves` at that base width for the same activations.
    Measured points carry CI bars; the product form is drawn at every depth, with the independent-layer sum
    V_dsum of the constant schedule (growth rate C at large beta), Hanin and Nica's e^{5 beta} - 1 beside it
    in the ReLU panel (a reference, not a prediction) and the quadratic schedule's saturation level.
    """
    if "base_width" in summary.dims:
        raise ValueError("plot_fluctuations_vs_depth: select one base_width first")
    activations = _values(summary, "activation")
    schedules = _values(summary, "schedule")
    colors = activation_colors(str(a) for a in activations)
    fig = Figure(figsize=(5.2 * len(activations), 5.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(activations), sharey=True))
    for ax, act in zip(axes, activations, strict=True):
        one = summary.sel(activation=act) if "activation" in summary.dims else summary
        cur = curves.sel(activation=act)
        _measured_vs_depth(ax, one, schedules, colors[str(act)])
        _curves(ax, cur, schedules, colors[str(act)], str(act))
        ax.set(yscale="log", xlabel="depth l", title=f"activation = {act}")
        ax.set_xticks([int(d) for d in one.depth.values])
        log_ticks(ax, "y")
    axes[0].set_ylabel(V_LABEL)
    legend = {}  # every label once, from whichever panel draws it (the ReLU reference is in one panel)
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=3, fontsize="small")
    m = int(curves.base_width)
    head = f"NTK diagonal fluctuations vs depth at base width m = {m} (constant m_k = m, linear k m, quadratic k² m)"
    title(fig, head, _settings(summary))
    return fig
