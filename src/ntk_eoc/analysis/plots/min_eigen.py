"""Figure of the min_eigen study: lambda_min of the NTK and its layer blocks against N / P
(SCIENCE §4.3, [BAM22])."""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .style import activation_colors, log_ticks, shade, title

# This study has one width schedule (every hidden width is d), so line styles tell apart the values
# of N, or the depths when several are swept.
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "D", "^", "P", "X")
EDGE_Y = 0.03  # height (axes fraction) of the triangles that mark lambda_min = 0 or below rounding


def _setting_colors(settings: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The activation's colour for each (activation, init); a second init of one activation is lighter."""
    base = activation_colors(a for a, _ in settings)
    inits = {a: [i for b, i in settings if b == a] for a, _ in settings}
    return {(a, i): shade(base[a], inits[a].index(i), max(len(inits[a]), 2)) for a, i in settings}


def _draw_group(ax: Axes, g, style: dict) -> None:
    """Error bars of the shown values; triangles on the bottom edge for rank zeros and rounding."""
    edge = ax.get_xaxis_transform()  # x in data, y in axes coordinates
    zero = g["rank_zero"].to_numpy(dtype=bool)
    shown = ~zero & (g["lambda_min_mean"] > g["rounding_level"]).to_numpy()
    x, mean = g["N_over_P"].to_numpy(), g["lambda_min_mean"].to_numpy()
    err = np.abs(np.stack([mean - g["lambda_min_min"].to_numpy(), g["lambda_min_max"].to_numpy() - mean]))
    ax.errorbar(x[shown], mean[shown], yerr=err[:, shown], ms=4, capsize=2, lw=1.2, **style)
    # Rank-bound zeros do not depend on the setting: gray; open: below rounding, in colour.
    ax.scatter(x[zero], np.full(zero.sum(), EDGE_Y), transform=edge, marker="v", s=22, color="gray", clip_on=False)
    low = ~zero & ~shown
    ax.scatter(x[low], np.full(low.sum(), EDGE_Y), transform=edge, marker="v", s=22, facecolors="none",
               edgecolors=style["color"], clip_on=False)  # fmt: skip


def _panel(ax: Axes, part, block: str, colors: dict, sizes: list, depths: list) -> None:
    for ((act, init), color), (k, size), (d, depth) in itertools.product(
        colors.items(), enumerate(sizes), enumerate(depths)
    ):
        g = part[(part["activation"] == act) & (part["init"] == init) & (part["N"] == size)]
        if depth is not None:
            g = g[g["depth"] == depth]
        if not g.empty:
            line = LINESTYLES[(d if len(depths) > 1 else k) % len(LINESTYLES)]
            _draw_group(
                ax, g.sort_values("N_over_P"), {"color": color, "marker": MARKERS[k % len(MARKERS)], "ls": line}
            )
    ax.axvline(1.0, color="black", ls=":", lw=1)
    ax.text(1.0, 0.97, " N = P", transform=ax.get_xaxis_transform(), va="top", fontsize="small")
    ratios = part["N_over_P"].to_numpy()
    ax.set(xscale="log", yscale="log", xlim=(min(ratios.min(), 1.0) / 1.5, max(ratios.max(), 1.0) * 1.5))
    ax.set_xlabel("N / P" + (" (P: all parameters)" if block == "full" else f" (P: parameters of {block})"))
    ax.set_title("full NTK" if block == "full" else f"block {block}", fontsize="medium")


def _legend(colors: dict, sizes: list, depths: list) -> list[Line2D]:
    handles = [Line2D([], [], color=c, lw=2, label=f"{act} / {init}") for (act, init), c in colors.items()]
    handles += [
        Line2D([], [], color="gray", marker=MARKERS[k % len(MARKERS)],
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
    return handles


def _fixed_text(table) -> str:
    """The study's fixed settings: depth and draws when single-valued, the widths d -> ... -> d -> m_l."""
    parts = []
    for column, fmt in (("depth", "depth l = {}"), ("draws", "{} draws")):
        values = sorted(table[column].unique()) if column in table else []
        if len(values) == 1:
            parts.append(fmt.format(values[0]))
    if "widths" in table:
        outs = sorted({w.split("-")[-1] for w in table["widths"]})
        parts.insert(0, f"widths d -> d -> ... -> m_l = {', '.join(outs)}")
    return ", ".join(parts)


def plot_min_eigen(table) -> Figure:
    """Mean lambda_min of the NTK and of each layer block against N / P, one panel per block (log-log).

    ``table`` is the tidy table of :func:`ntk_eoc.analysis.min_eigen.summary_table` (a DataFrame,
    one row per run and block with ``N``, ``N_over_P``, ``lambda_min_mean``, ``lambda_min_min``,
    ``lambda_min_max``, ``rank_zero``, ``rounding_level``, and ``depth``). Colour: the activation (the
    colours of every figure; a second init of one activation is lighter); marker: N; line style: N, or
    the depth l when several depths are swept. Bars span the draws' min..max. Rows with lambda_min = 0
    by the rank bound (N > P, filled triangles) or not above the rounding level eps N lambda_max (open
    triangles) cannot sit on a log axis: they are drawn on the bottom edge. The dotted vertical line is
    the threshold N = P.
    """
    blocks = sorted(table["block"].unique(), key=lambda b: (b != "full", b))
    colors = _setting_colors(sorted({(a, i) for a, i in zip(table["activation"], table["init"], strict=True)}))
    sizes = sorted(table["N"].unique())
    depths = sorted(table["depth"].unique()) if "depth" in table else [None]
    cols = min(len(blocks), 2)
    rows = -(-len(blocks) // cols)
    fig = Figure(figsize=(4.6 * cols + 1.8, 3.6 * rows + 0.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for ax in axes[len(blocks) :]:
        ax.set_visible(False)
    for ax, block in zip(axes, blocks, strict=False):
        _panel(ax, table[table["block"] == block], block, colors, sizes, depths)
    for ax in axes[: len(blocks)]:
        log_ticks(ax)
    for ax in axes[::cols]:
        ax.set_ylabel("mean λ_min(K)")
    fig.legend(handles=_legend(colors, sizes, depths), loc="outside right center", fontsize="small", frameon=False)
    head = (
        "Smallest eigenvalue of the NTK K = (1/N) K_θ against N / P "
        "(bars: min..max over draws; the NTK without 1/N has N λ_min)"
    )
    title(fig, head, _fixed_text(table))
    return fig
