"""Figures of the concentration and spectrum statistics: Dataset in, ``matplotlib.figure.Figure`` out.

Plots pick and draw data computed by :mod:`ntk_eoc.stats` and :mod:`ntk_eoc.spectrum`; they never
compute a statistic. Reference slopes and predicted limits are drawn from the datasets (``pred_*``
variables) or from the stated theory exponent. Figures are built on ``matplotlib.figure.Figure``
directly (no pyplot state; files are rendered by the Agg/PDF canvases).

Inputs:
- ``summary``: :func:`ntk_eoc.stats.summarize` output, variables over (..., statistic, bound);
- ``spec``: :func:`ntk_eoc.spectrum.limit_spectrum` output (optionally concatenated over "activation");
- ``factor``: :func:`ntk_eoc.stats.theory_bound_factor` values over "activation".
A figure draws one line per combination of at most two extra dims: colour by the first, line style by
the second (e.g. colour = activation, style = schedule); select the rest before calling.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

__all__ = [
    "plot_activation_factor",
    "plot_deviation_vs_cost",
    "plot_deviation_vs_width",
    "plot_inverse_cosine_error",
    "plot_kernel_spectrum_vs_width",
    "plot_limit_spectrum",
    "plot_min_eigen",
    "plot_output_dimension",
    "plot_schedule_comparison",
    "save_figure",
]

NORM_LABELS = {"op": "operator", "fro": "Frobenius", "max": "max-entry"}
STAT_LABELS = {"mean": "mean", "median": "median", "tail": "1 - 1/m quantile of"}
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray")
LINESTYLES = ("-", "--", ":", "-.")
FIGSIZE = (6.4, 4.8)
CI_ALPHA = 0.2  # shading of confidence bands
PNG_DPI = 150  # sharp on screen and in the HTML report at ~100 KB per figure


def save_figure(fig: Figure, stem: str | Path, dpi: int = PNG_DPI) -> tuple[Path, Path]:
    """Write ``<stem>.png`` (``dpi`` dots per inch) and ``<stem>.pdf`` (vector); returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = Path(f"{stem}.png"), Path(f"{stem}.pdf")
    fig.savefig(png, dpi=dpi)
    fig.savefig(pdf)
    return png, pdf


def _deviation_label(var: str, statistic: str) -> str:
    norm, kind = var.split("_", 1) if "_" in var else (var, "abs")
    name = NORM_LABELS.get(norm, norm)
    body = f"||K(θ) - K∞||_{norm}"
    if kind == "rel":
        body += f" / ||K∞||_{norm}"
    return f"{STAT_LABELS.get(statistic, statistic)} {body} ({name} norm)"


def _groups(da: xr.DataArray, x_dim: str, core: Sequence[str] = ()) -> Iterator[tuple[str | None, dict, dict]]:
    """(label, style kwargs, selection) per combination of the dims other than x_dim and ``core`` (<= 2)."""
    others = [d for d in da.dims if d != x_dim and d not in core]
    if len(others) > 2:
        raise ValueError(f"plot: at most two dims besides {x_dim!r} (colour, style); got {others}; select first")
    missing = [d for d in others if d not in da.coords]
    if missing:
        raise ValueError(f"plot: dims {missing} need coordinate values for the legend")
    values = [list(da[d].values) for d in others]
    for combo in itertools.product(*values):
        sel = dict(zip(others, combo, strict=True))
        style = {"color": COLORS[values[0].index(combo[0]) % len(COLORS)] if others else COLORS[0]}
        if len(others) == 2:
            style["linestyle"] = LINESTYLES[values[1].index(combo[1]) % len(LINESTYLES)]
        label = ", ".join(f"{d}={v}" for d, v in sel.items()) or None
        yield label, style, sel


def _band_lines(ax: Axes, stat: xr.DataArray, x_dim: str, suffix=None) -> list[tuple[float, float]]:
    """value (markers + line) with [ci_low, ci_high] bands per group; returns the first (x, y) of each.

    ``suffix(sel)`` may append text (e.g. a fitted slope) to a group's legend label.
    """
    anchors = []
    for label, style, sel in _groups(stat, x_dim, core=("bound",)):
        g = stat.sel(sel).transpose(x_dim, "bound")
        x = g[x_dim].values
        text = (label or "") + (suffix(sel) if suffix else "")
        ax.plot(x, g.sel(bound="value"), marker="o", label=text or None, **style)
        ax.fill_between(x, g.sel(bound="ci_low"), g.sel(bound="ci_high"), alpha=CI_ALPHA, color=style["color"])
        anchors.append((float(x[0]), float(g.sel(bound="value")[0])))
    return anchors


def _reference(ax: Axes, anchor: tuple[float, float], x: np.ndarray, exponent: float, label: str) -> None:
    """Guide line y = y0 (x / x0)^exponent through ``anchor``, drawn in black dots."""
    x0, y0 = anchor
    ax.plot(x, y0 * (np.asarray(x, dtype=float) / x0) ** exponent, "k:", lw=1.5, label=label)


def _data_ticks(ax: Axes, values) -> None:
    """x ticks at the measured values (e.g. the base widths), labelled plainly."""
    ax.set_xticks([float(v) for v in np.asarray(values)], [f"{v:g}" for v in np.asarray(values)])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _slope_text(slopes: xr.Dataset):
    def suffix(sel: dict) -> str:
        one = slopes.sel({k: v for k, v in sel.items() if k in slopes.dims})
        return f" (slope {float(one.slope):.3f} [{float(one.ci_low):.3f}, {float(one.ci_high):.3f}])"

    return suffix


def plot_deviation_vs_width(
    summary: xr.Dataset,
    var: str = "op_rel",
    statistic: str = "mean",
    slopes: xr.Dataset | None = None,
    reference_slope: float = -0.5,
) -> Figure:
    """Deviation vs base width m on log-log axes, CI bands, and the predicted slope m^-1/2.

    ``slopes`` (:func:`ntk_eoc.stats.fit_slopes` over the same extra dims) adds the fitted slope and
    its CI to each legend entry.
    """
    stat = summary[var].sel(statistic=statistic)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    anchors = _band_lines(ax, stat, "base_width", _slope_text(slopes) if slopes is not None else None)
    _reference(ax, anchors[0], stat.base_width.values, reference_slope, f"slope {reference_slope:g} (theory)")
    ax.set(xscale="log", yscale="log", xlabel="base width m", ylabel=_deviation_label(var, statistic))
    _data_ticks(ax, stat.base_width.values)
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
    _band_lines(ax, stat, "depth")
    ax.set(yscale="log", xlabel="depth l", ylabel=_deviation_label(var, statistic))
    _data_ticks(ax, stat.depth.values)
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
    for label, style, sel in _groups(stat, "activation", core=("bound",)):
        g = stat.sel(sel).transpose("activation", "bound")
        f = factor.sel(activation=g.activation).values
        y = g.sel(bound="value").values
        err = np.abs(g.sel(bound=["ci_low", "ci_high"]).values.T - y)
        ax.errorbar(f, y, yerr=err, fmt="o", capsize=3, label=label, color=style["color"])
        if anchor is None:
            anchor = (float(f.min()), float(y[np.argmin(f)]))
            for act, fx, yy in zip(g.activation.values, f, y, strict=True):
                ax.annotate(f" {act}", (fx, yy), fontsize="x-small")
    _reference(ax, anchor, np.sort(factor.values), 1.0, "∝ theory factor")
    xlabel = "theory factor (Δ⁻² + √m_l · l) κ²"
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=_deviation_label(var, statistic))
    ax.set_title("Activations across Δ against the bound's factor")
    ax.legend(fontsize="small")
    return fig


def plot_output_dimension(summary: xr.Dataset, var: str = "op_abs", statistic: str = "mean") -> Figure:
    """Deviation vs output dimension m_l (log-log), with the bound's sqrt(m_l) cost as a guide."""
    stat = summary[var].sel(statistic=statistic)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    anchors = _band_lines(ax, stat, "output_dim")
    _reference(ax, anchors[0], stat.output_dim.values, 0.5, "∝ √m_l (theory)")
    ax.set(xscale="log", yscale="log", xlabel="output dimension m_l", ylabel=_deviation_label(var, statistic))
    _data_ticks(ax, stat.output_dim.values)
    ax.set_title("Cost of the output dimension")
    ax.legend(fontsize="small")
    return fig


_SPECTRUM_PANELS = (
    ("lambda_min_scaled", "λ_min(K∞) · n / l", "pred_lambda_min_scaled"),
    ("lambda_max_scaled", "λ_max(K∞) · n / l", "pred_lambda_max_scaled"),
    ("cond", "cond(K∞) = λ_max / λ_min", "pred_cond"),
    ("theta_offdiag_scaled_mean", "Θ_l(x, x') / l, x ≠ x'", "pred_theta_offdiag_scaled"),
)


def _activation_lines(spec: xr.Dataset) -> Iterator[tuple[str, str, xr.Dataset]]:
    if "activation" not in spec.dims:
        spec = spec.expand_dims("activation")
    for k in range(spec.sizes["activation"]):
        one = spec.isel(activation=k)
        yield f"{one.activation.item()} (Δ={float(one.delta):.2f})", COLORS[k % len(COLORS)], one


def plot_limit_spectrum(spec: xr.Dataset) -> Figure:
    """lambda_min n/l, lambda_max n/l, cond and Theta_l/l of K_inf vs depth, predicted limits dashed."""
    fig = Figure(figsize=(10.0, 7.5), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True).ravel()
    for label, color, one in _activation_lines(spec):
        for ax, (name, _, _) in zip(axes, _SPECTRUM_PANELS, strict=True):
            ax.plot(one.depth, one[name], color=color, label=label)
        axes[3].fill_between(
            one.depth, one.theta_offdiag_scaled_min, one.theta_offdiag_scaled_max, color=color, alpha=CI_ALPHA
        )
    for ax, (_, ylabel, pred) in zip(axes, _SPECTRUM_PANELS, strict=True):
        ax.axhline(float(np.unique(spec[pred])[0]), color="k", ls="--", lw=1, label="predicted limit")
        ax.set(xscale="log", ylabel=ylabel)
    axes[2].set_yscale("log")  # cond spans orders of magnitude at small depth and small Delta
    for ax in axes[2:]:
        ax.set_xlabel("depth l")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Spectrum of K∞ vs depth, n = {spec.attrs.get('n_points', '?')} inputs (band: min-max over pairs)")
    return fig


def plot_inverse_cosine_error(spec: xr.Dataset) -> Figure:
    """|C (1 - rho_l)^-1/2 / Theta_l - 1| vs depth (max and median over pairs x != x'), log-log."""
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    for label, color, one in _activation_lines(spec):
        ax.plot(one.depth, one.inv_cos_relerr_max, color=color, label=f"{label}, max over pairs")
        ax.plot(one.depth, one.inv_cos_relerr_median, color=color, ls="--", label=f"{label}, median")
    ax.set(xscale="log", yscale="log", xlabel="depth l", ylabel="relative error of Θ_l ≈ C (1 - ρ_l)^(-1/2)")
    ax.set_title("Inverse-cosine-distance approximation of K∞, C = 3π / (8√2 Δ)")
    ax.legend(fontsize="small")
    return fig


def plot_kernel_spectrum_vs_width(
    summary: xr.Dataset,
    limit: xr.Dataset,
    names: Sequence[str] = ("lambda_min", "lambda_max", "cond"),
    band: tuple[float, float] | None = None,
) -> Figure:
    """Median and a quantile band of lambda_min, lambda_max, cond of K(theta) across draws vs width.

    ``summary`` is :func:`ntk_eoc.stats.summarize` of :func:`ntk_eoc.spectrum.eigen_summary` over draws;
    ``limit`` the :func:`~ntk_eoc.spectrum.eigen_summary` of K_inf (drawn as a dashed line per group).
    ``band`` picks two quantile levels (default: the outermost available).
    """
    fig = Figure(figsize=(4.0 * len(names), 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names, strict=True):
        q = summary[f"{name}_quantile"]
        lo, hi = band or (float(q["quantile"].min()), float(q["quantile"].max()))
        med = summary[name].sel(statistic="median", bound="value")
        for k, (label, style, sel) in enumerate(_groups(med, "base_width")):
            g, qs = med.sel(sel), q.sel(sel)
            ax.plot(g.base_width, g, marker="o", label=label or "K(θ) draws", **style)
            ax.fill_between(
                g.base_width, qs.sel(quantile=lo), qs.sel(quantile=hi), alpha=CI_ALPHA, color=style["color"]
            )
            level = float(limit[name].sel({d: v for d, v in sel.items() if d in limit[name].dims}))
            ax.axhline(level, ls="--", label="K∞" if k == 0 else None, **style)
        ax.set(xscale="log", xlabel="base width m", ylabel=f"{name} of K(θ)")
        _data_ticks(ax, med.base_width.values)
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
                _data_ticks(ax, dev.base_width.values)
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


def plot_min_eigen(table) -> Figure:
    """Mean lambda_min of the NTK and of each layer block against N / P, one panel per block (log-log).

    ``table`` is the tidy table of :func:`ntk_eoc.pipeline.min_eigen_summary.summary_table` (a DataFrame,
    one row per run and block with ``N``, ``N_over_P``, ``lambda_min_mean``, ``lambda_min_min``,
    ``lambda_min_max``, ``rank_zero``, ``rounding_level``, and ``depth``). Colour: activation/init; marker:
    N; line style: N, or the depth l when several depths are swept. Bars span the draws' min..max. Rows
    with lambda_min = 0 by the rank bound (N > P, filled triangles) or not above the rounding level
    eps N lambda_max (open triangles) cannot sit on a log axis: they are drawn on the bottom edge. The
    dotted vertical line is the threshold N = P.
    """
    from matplotlib.lines import Line2D

    blocks = sorted(table["block"].unique(), key=lambda b: (b != "full", b))
    settings = sorted({(a, i) for a, i in zip(table["activation"], table["init"], strict=True)})
    sizes = sorted(table["N"].unique())
    depths = sorted(table["depth"].unique()) if "depth" in table else [None]
    markers = ("o", "s", "D", "^", "P", "X")
    cols = min(len(blocks), 2)
    rows = -(-len(blocks) // cols)
    fig = Figure(figsize=(4.6 * cols + 1.8, 3.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for ax in axes[len(blocks) :]:
        ax.set_visible(False)
    for ax, block in zip(axes, blocks, strict=False):
        edge = ax.get_xaxis_transform()  # x in data, y in axes coordinates
        part = table[table["block"] == block]
        for (s, (act, init)), (k, size), (d, depth) in itertools.product(
            enumerate(settings), enumerate(sizes), enumerate(depths)
        ):
            g = part[(part["activation"] == act) & (part["init"] == init) & (part["N"] == size)]
            if depth is not None:
                g = g[g["depth"] == depth]
            g = g.sort_values("N_over_P")
            if g.empty:
                continue
            line = LINESTYLES[(d if len(depths) > 1 else k) % len(LINESTYLES)]
            style = {"color": COLORS[s % len(COLORS)], "marker": markers[k % len(markers)]}
            zero = g["rank_zero"].to_numpy(dtype=bool)
            shown = ~zero & (g["lambda_min_mean"] > g["rounding_level"]).to_numpy()
            x, mean = g["N_over_P"].to_numpy(), g["lambda_min_mean"].to_numpy()
            err = np.abs(np.stack([mean - g["lambda_min_min"].to_numpy(), g["lambda_min_max"].to_numpy() - mean]))
            ax.errorbar(
                x[shown], mean[shown], yerr=err[:, shown], ls=line,
                ms=4, capsize=2, lw=1.2, **style,
            )  # fmt: skip
            # Rank-bound zeros do not depend on the setting: gray; open: below rounding, in colour.
            ax.scatter(x[zero], np.full(zero.sum(), 0.03), transform=edge, marker="v", s=22, color="gray",
                       clip_on=False)  # fmt: skip
            low = ~zero & ~shown
            ax.scatter(x[low], np.full(low.sum(), 0.03), transform=edge, marker="v", s=22, facecolors="none",
                       edgecolors=style["color"], clip_on=False)  # fmt: skip
        ax.axvline(1.0, color="black", ls=":", lw=1)
        ax.text(1.0, 0.97, " N = P", transform=edge, va="top", fontsize="small")
        ratios = part["N_over_P"].to_numpy()
        ax.set(xscale="log", yscale="log", xlim=(min(ratios.min(), 1.0) / 1.5, max(ratios.max(), 1.0) * 1.5))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("N / P" + (" (P: all parameters)" if block == "full" else f" (P: parameters of {block})"))
        ax.set_title("full NTK" if block == "full" else f"block {block}", fontsize="medium")
    for ax in axes[::cols]:
        ax.set_ylabel("mean λ_min(K)")
    handles = [
        Line2D([], [], color=COLORS[s % len(COLORS)], lw=2, label=f"{act} / {init}")
        for s, (act, init) in enumerate(settings)
    ]
    handles += [
        Line2D([], [], color="gray", marker=markers[k % len(markers)],
               ls="" if len(depths) > 1 else LINESTYLES[k % len(LINESTYLES)], label=f"N = {size}")
        for k, size in enumerate(sizes)
    ]  # fmt: skip
    if len(depths) > 1:
        handles += [
            Line2D([], [], color="gray", ls=LINESTYLES[d % len(LINESTYLES)], label=f"depth l = {depth}")
            for d, depth in enumerate(depths)
        ]
    handles.append(Line2D([], [], color="gray", marker="v", ls="", label="λ_min = 0 (rank bound, N > P)"))
    handles.append(Line2D([], [], color="gray", marker="v", ls="", mfc="none", label="λ_min ≤ eps N λ_max (rounding)"))
    fig.legend(handles=handles, loc="outside right center", fontsize="small", frameon=False)
    fig.suptitle(
        "Smallest eigenvalue of the NTK K = (1/N) K_θ against N / P (bars: min..max over draws; "
        "the NTK without 1/N has N λ_min)",
        fontsize="medium",
    )
    return fig
