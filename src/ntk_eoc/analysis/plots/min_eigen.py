"""Figure of the min_eigen study: lambda_min of the NTK and its layer blocks against N / P."""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from .style import COLORS, LINESTYLES


def plot_min_eigen(table) -> Figure:
    """Mean lambda_min of the NTK and of each layer block against N / P, one panel per block (log-log).

    ``table`` is the tidy table of :func:`ntk_eoc.analysis.min_eigen.summary_table` (a DataFrame,
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
