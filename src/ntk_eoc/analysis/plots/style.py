"""Shared style and helpers of the figures: colours, line styles, confidence bands, guide lines, files."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from ..names import PNG_DPI

NORM_LABELS = {"op": "operator", "fro": "Frobenius", "max": "max-entry"}
STAT_LABELS = {"mean": "mean", "median": "median", "tail": "1 - 1/m quantile of"}
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray")
LINESTYLES = ("-", "--", ":", "-.")
FIGSIZE = (6.4, 4.8)
CI_ALPHA = 0.2  # shading of confidence bands


def save_figure(fig: Figure, stem: str | Path, dpi: int = PNG_DPI) -> tuple[Path, Path]:
    """Write ``<stem>.png`` (``dpi`` dots per inch) and ``<stem>.pdf`` (vector); returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = Path(f"{stem}.png"), Path(f"{stem}.pdf")
    fig.savefig(png, dpi=dpi)
    fig.savefig(pdf)
    return png, pdf


def deviation_label(var: str, statistic: str) -> str:
    norm, kind = var.split("_", 1) if "_" in var else (var, "abs")
    name = NORM_LABELS.get(norm, norm)
    body = f"||K(θ) - K∞||_{norm}"
    if kind == "rel":
        body += f" / ||K∞||_{norm}"
    return f"{STAT_LABELS.get(statistic, statistic)} {body} ({name} norm)"


def groups(da: xr.DataArray, x_dim: str, core: Sequence[str] = ()) -> Iterator[tuple[str | None, dict, dict]]:
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


def band_lines(ax: Axes, stat: xr.DataArray, x_dim: str, suffix=None) -> list[tuple[float, float]]:
    """value (markers + line) with [ci_low, ci_high] bands per group; returns the first (x, y) of each.

    ``suffix(sel)`` may append text (e.g. a fitted slope) to a group's legend label.
    """
    anchors = []
    for label, style, sel in groups(stat, x_dim, core=("bound",)):
        g = stat.sel(sel).transpose(x_dim, "bound")
        x = g[x_dim].values
        text = (label or "") + (suffix(sel) if suffix else "")
        ax.plot(x, g.sel(bound="value"), marker="o", label=text or None, **style)
        ax.fill_between(x, g.sel(bound="ci_low"), g.sel(bound="ci_high"), alpha=CI_ALPHA, color=style["color"])
        anchors.append((float(x[0]), float(g.sel(bound="value")[0])))
    return anchors


def reference_line(ax: Axes, anchor: tuple[float, float], x: np.ndarray, exponent: float, label: str) -> None:
    """Guide line y = y0 (x / x0)^exponent through ``anchor``, drawn in black dots."""
    x0, y0 = anchor
    ax.plot(x, y0 * (np.asarray(x, dtype=float) / x0) ** exponent, "k:", lw=1.5, label=label)


def data_ticks(ax: Axes, values) -> None:
    """x ticks at the measured values (e.g. the base widths), labelled plainly."""
    ax.set_xticks([float(v) for v in np.asarray(values)], [f"{v:g}" for v in np.asarray(values)])
    ax.xaxis.set_minor_formatter(NullFormatter())


def slope_text(slopes: xr.Dataset):
    def suffix(sel: dict) -> str:
        one = slopes.sel({k: v for k, v in sel.items() if k in slopes.dims})
        return f" (slope {float(one.slope):.3f} [{float(one.ci_low):.3f}, {float(one.ci_high):.3f}])"

    return suffix
