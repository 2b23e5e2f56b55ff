"""Shared style of the figures: one colour per activation, one line style per width schedule, titles
that state the fixed settings, readable log axes, confidence bands, guide lines, files.

Conventions kept by every figure:

- colour = activation (:func:`activation_colors`: relu blue, abs orange, identity gray, every other
  activation a further colour in a stable order);
- line style = width schedule (:data:`SCHEDULE_LINESTYLES`: quadratic solid, linear dash-dot, constant
  dashed, explicit dash-dot-dot); a figure whose schedule is fixed draws its data in that schedule's style;
- dotted lines (black, or in an activation's colour) are theory: reference slopes, predicted limits;
- markers (and lighter shades of the activation's colour) tell apart the values of any other dim;
- every title states the settings the figure holds fixed (:func:`settings_text`).
"""

from __future__ import annotations

import itertools
import math
import re
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ..names import PNG_DPI

NORM_LABELS = {"op": "operator", "fro": "Frobenius", "max": "max-entry"}
STAT_LABELS = {"mean": "mean", "median": "median", "tail": "1 - 1/m quantile of"}
# Activations with a colour of their own in every figure; any other activation takes the next free
# colour of OTHER_COLORS in the order of :func:`_activation_order`.
FIXED_COLORS = {
    "relu": "tab:blue",
    "abs": "tab:orange",
    "identity": "tab:gray",
    "sigmoid": "tab:olive",
    "tanh": "tab:cyan",
    "erf": "tab:pink",
}
OTHER_COLORS = ("tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray")
SCHEDULE_LINESTYLES = {
    "quadratic": "-",
    "linear": "-.",
    "constant": "--",
    "explicit": (0, (6, 2, 1, 2, 1, 2)),  # dash-dot-dot: dotted lines are reserved for theory
}
DEFAULT_LINESTYLE = "-"  # data lines of a figure without a width schedule (e.g. the limit K_inf)
GUIDE = {"color": "black", "ls": ":", "lw": 1.5}  # theory: reference slopes and predicted limits
MARKERS = ("o", "s", "D", "^", "v", "P", "X")
FIGSIZE = (6.4, 4.8)
CI_ALPHA = 0.2  # shading of confidence bands
# Fixed settings a title may state, in this order, with their labels.
SETTING_LABELS = {
    "activation": "{}",
    "schedule": "{}",
    "factorization": "factorization {}",
    "depth": "depth l = {}",
    "base_width": "m = {}",
    "output_dim": "m_l = {}",
    "n_points": "n = {}",
    "input_dim": "m_0 = {}",
    "dataset": "{} inputs",
    "draws": "{} draws",
}
SCHEDULE_FORMULAS = {"quadratic": "m_k = k² m", "linear": "m_k = k m", "constant": "m_k = m"}
# Swept config keys that name a setting of SETTING_LABELS.
SETTING_ALIASES = {"dataset.input_dim": "input_dim", "dataset.n_points": "n_points", "dataset.name": "dataset"}
# Labelled steps within a decade of a log axis, by the decades the view spans (the first span above wins);
# wider views label the decades only. Below LINEAR_TICKS_BELOW decades, evenly spaced plain numbers.
LOG_SUBS = (
    (0.5, (1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)),
    (1.0, (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)),
    (3.0, (1.0, 2.0, 5.0)),
)
LINEAR_TICKS_BELOW = 0.15
TITLE_CHARS_PER_INCH = 12  # characters of a medium-size title line per inch of figure width
SHADE_MAX = 0.55  # the lightest shade of an activation's colour mixes in this much white


def save_figure(fig: Figure, stem: str | Path, dpi: int = PNG_DPI) -> tuple[Path, Path]:
    """Write ``<stem>.png`` (``dpi`` dots per inch) and ``<stem>.pdf`` (vector); returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = Path(f"{stem}.png"), Path(f"{stem}.pdf")
    fig.savefig(png, dpi=dpi)
    fig.savefig(pdf)
    return png, pdf


def _activation_order(name: str) -> tuple[float, str]:
    """Sort key of activations without a fixed colour: leaky ReLUs by slope alpha, then by name."""
    match = re.fullmatch(r"leaky_relu\(([-+0-9.eE]+)\)", name)
    return (float(match.group(1)) if match else math.inf, name)


def activation_colors(names: Iterable[str]) -> dict[str, str]:
    """Colour of each activation name: :data:`FIXED_COLORS`, then the free colours of
    :data:`OTHER_COLORS` in the order of :func:`_activation_order` (the same for every figure of a set)."""
    names = list(dict.fromkeys(str(n) for n in names))
    colors = {n: FIXED_COLORS[n] for n in names if n in FIXED_COLORS}
    free = [c for c in OTHER_COLORS if c not in colors.values()]
    others = sorted((n for n in names if n not in colors), key=_activation_order)
    colors.update({n: free[k % len(free)] for k, n in enumerate(others)})
    return colors


def schedule_linestyle(name: str | None):
    """Line style of a width schedule (:data:`SCHEDULE_LINESTYLES`); solid when none is fixed."""
    return SCHEDULE_LINESTYLES.get(str(name), DEFAULT_LINESTYLE) if name is not None else DEFAULT_LINESTYLE


def shade(color: str, k: int, count: int) -> str:
    """The k-th of ``count`` shades of ``color``: k = 0 is the colour itself, later ones lighter."""
    if count <= 1:
        return to_hex(color)
    mix = SHADE_MAX * k / (count - 1)
    return to_hex(tuple((1.0 - mix) * c + mix for c in to_rgb(color)))


def _scalar(data: xr.DataArray | xr.Dataset, key: str) -> Any:
    coord = data.coords.get(key)
    if coord is None or coord.ndim != 0:
        return None
    value = coord.item()
    return value.decode() if isinstance(value, bytes) else value


def _setting_value(key: str, value: Any) -> str:
    if key == "schedule":
        return f"{value} widths" + (f" {SCHEDULE_FORMULAS[value]}" if value in SCHEDULE_FORMULAS else "")
    return f"{value:g}" if isinstance(value, float) else str(value)


def fixed_settings(data: xr.DataArray | xr.Dataset, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings ``data`` holds fixed: ``settings`` (e.g. from a run's config) overridden by the
    scalar coords of ``data``; keys that are dims of ``data`` (drawn, so not fixed) are dropped."""
    merged = {SETTING_ALIASES.get(k, k): v for k, v in (settings or {}).items() if v is not None}
    for key in data.coords:
        value = _scalar(data, str(key))
        name = SETTING_ALIASES.get(str(key), str(key))
        if value is not None and (name in SETTING_LABELS or "." in name):
            merged[name] = value
    drawn = {SETTING_ALIASES.get(str(d), str(d)) for d in data.dims}
    return {k: v for k, v in merged.items() if k not in drawn}


def settings_text(data: xr.DataArray | xr.Dataset, settings: Mapping[str, Any] | None = None) -> str:
    """One line stating the fixed settings, e.g. "relu, depth l = 4, m_l = 1, n = 32, 128 draws"."""
    fixed = fixed_settings(data, settings)
    known = [SETTING_LABELS[k].format(_setting_value(k, fixed[k])) for k in SETTING_LABELS if k in fixed]
    other = [f"{k} = {_setting_value(k, v)}" for k, v in sorted(fixed.items()) if k not in SETTING_LABELS]
    return ", ".join(known + other)


def _wrap(text: str, width: int) -> str:
    """Break ``text`` at its ", " separators into lines of at most ``width`` characters (where possible)."""
    lines: list[str] = []
    for part in text.split(", "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += ", " + part
        else:
            lines.append(part)
    return ",\n".join(lines)


def title(target: Axes | Figure, text: str, subtitle: str = "", **kwargs: Any) -> None:
    """Title of an Axes (or suptitle of a Figure) with the fixed settings on the next line(s), wrapped
    to the figure's width."""
    fig = target if isinstance(target, Figure) else target.figure
    width = int(fig.get_figwidth() * TITLE_CHARS_PER_INCH)
    head = "\n".join(textwrap.fill(line, width, break_long_words=False) for line in text.split("\n"))
    lines = [_wrap(line, width) for line in subtitle.split("\n") if line]
    full = "\n".join([head, *lines])
    if isinstance(target, Figure):
        target.suptitle(full, **{"fontsize": "medium", **kwargs})
    else:
        target.set_title(full, **{"fontsize": "medium", **kwargs})


def with_fixed(data, settings: Mapping[str, Any] | None):
    """``data`` with the fixed activation and schedule of ``settings`` as scalar coords (for colours
    and line styles), unless ``data`` already has them."""
    extra = {k: (settings or {}).get(k) for k in ("activation", "schedule")}
    return data.assign_coords({k: v for k, v in extra.items() if v is not None and k not in data.coords})


def _tick_label(value: float, _pos=None) -> str:
    if value == 0 or not np.isfinite(value):
        return ""
    exponent = math.floor(math.log10(abs(value)) + 1e-9)
    return f"{value:g}" if -3 <= exponent <= 4 else f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")


def log_ticks(ax: Axes, which: str = "both") -> None:
    """Labelled ticks on every log axis of ``ax`` whatever its range: decades when the view spans >= 3
    decades, 1-2-5 steps from 1 decade, finer steps below (:data:`LOG_SUBS`), linear below 0.15 decade.
    Axes ticked at the measured values (:func:`data_ticks`) keep their ticks. Call after the last
    artist is drawn (it reads the view limits)."""
    for axis, limits, scale in (("x", ax.get_xlim(), ax.get_xscale()), ("y", ax.get_ylim(), ax.get_yscale())):
        if scale != "log" or which not in (axis, "both"):
            continue
        target = ax.xaxis if axis == "x" else ax.yaxis
        if isinstance(target.get_major_locator(), FixedLocator):
            continue
        lo, hi = sorted(limits)
        decades = math.log10(hi / lo) if lo > 0 else math.inf
        subs = next((subs for span, subs in LOG_SUBS if decades < span), None)
        if decades < LINEAR_TICKS_BELOW:
            major = MaxNLocator(nbins=4)
        else:
            major = LogLocator(subs=subs, numticks=20) if subs else LogLocator(numticks=8)
        target.set_major_locator(major)
        target.set_major_formatter(FuncFormatter(_tick_label))
        target.set_minor_locator(LogLocator(subs="auto", numticks=12))
        target.set_minor_formatter(NullFormatter())


def deviation_label(var: str, statistic: str) -> str:
    norm, kind = var.split("_", 1) if "_" in var else (var, "abs")
    name = NORM_LABELS.get(norm, norm)
    body = f"||K(θ) - K∞||_{norm}"
    if kind == "rel":
        body += f" / ||K∞||_{norm}"
    return f"{STAT_LABELS.get(statistic, statistic)} {body} ({name} norm)"


def group_label(sel: Mapping[str, Any]) -> str | None:
    """Legend label of a selection: activation and schedule by name, other keys as settings ("m_0 = 8")."""
    parts = []
    for key, value in sel.items():
        name = SETTING_ALIASES.get(key, key)
        fmt = SETTING_LABELS.get(name, f"{key} = {{}}")
        parts.append(str(value) if name in ("activation", "schedule") else fmt.format(_setting_value(name, value)))
    return ", ".join(parts) or None


def groups(da: xr.DataArray, x_dim: str, core: Sequence[str] = ()) -> Iterator[tuple[str | None, dict, dict]]:
    """(label, style kwargs, selection) per combination of the dims other than x_dim and ``core`` (<= 2).

    Colour: the activation (dim, else scalar coord); line style: the schedule (dim, else scalar coord);
    any other dim: markers and lighter shades of the activation's colour.
    """
    others = [d for d in da.dims if d != x_dim and d not in core]
    if len(others) > 2:
        raise ValueError(f"plot: at most two dims besides {x_dim!r} (colour, style); got {others}; select first")
    missing = [d for d in others if d not in da.coords]
    if missing:
        raise ValueError(f"plot: dims {missing} need coordinate values for the legend")
    values = {d: [v.item() if hasattr(v, "item") else v for v in da[d].values] for d in others}
    acts = values.get("activation") or [_scalar(da, "activation")]
    colors = activation_colors(str(a) for a in acts if a is not None)
    extra = [d for d in others if d not in ("activation", "schedule")]
    for combo in itertools.product(*values.values()):
        sel = dict(zip(others, combo, strict=True))
        act = sel.get("activation", _scalar(da, "activation"))
        color = colors.get(str(act), COLORS[0])
        style = {"color": color, "linestyle": schedule_linestyle(sel.get("schedule", _scalar(da, "schedule")))}
        if extra:
            k = values[extra[0]].index(sel[extra[0]])
            style.update(color=shade(color, k, len(values[extra[0]])), marker=MARKERS[k % len(MARKERS)])
        if len(extra) == 2:
            style["fillstyle"] = ("full", "none")[values[extra[1]].index(sel[extra[1]]) % 2]
        yield group_label(sel), style, sel


def band_lines(ax: Axes, stat: xr.DataArray, x_dim: str, suffix=None) -> list[tuple[float, float]]:
    """value (markers + line) with [ci_low, ci_high] bands per group; returns the first (x, y) of each.

    ``suffix(sel)`` may append text (e.g. a fitted slope) to a group's legend label.
    """
    anchors = []
    for label, style, sel in groups(stat, x_dim, core=("bound",)):
        g = stat.sel(sel).transpose(x_dim, "bound")
        x = g[x_dim].values
        text = (label or "") + (suffix(sel) if suffix else "")
        ax.plot(x, g.sel(bound="value"), **{"marker": "o", **style}, label=text or None)
        ax.fill_between(x, g.sel(bound="ci_low"), g.sel(bound="ci_high"), alpha=CI_ALPHA, color=style["color"])
        anchors.append((float(x[0]), float(g.sel(bound="value")[0])))
    return anchors


def prediction_lines(ax: Axes, stat: xr.DataArray, x_dim: str) -> None:
    """Each group's predicted value (thin line, x markers, its colour and line style) where it is defined,
    and one legend entry for all of them."""
    drawn = False
    for _, style, sel in groups(stat, x_dim, core=("bound",)):
        g = stat.sel(sel).sel(bound="value")
        ok = np.isfinite(g.values)
        if ok.any():
            line = {**style, "marker": "x", "linewidth": 0.9, "alpha": 0.85, "fillstyle": "full"}
            ax.plot(g[x_dim].values[ok], g.values[ok], **line)
            drawn = True
    if drawn:
        ax.plot([], [], color="0.3", marker="x", linewidth=0.9, label="× first-order prediction (SCIENCE §6.1)")


def reference_line(
    ax: Axes, anchor: tuple[float, float], x: np.ndarray, exponent: float, label: str | None, **style: Any
) -> None:
    """Guide line y = y0 (x / x0)^exponent through ``anchor``, dotted (theory; black unless ``style``)."""
    x0, y0 = anchor
    ax.plot(x, y0 * (np.asarray(x, dtype=float) / x0) ** exponent, **{**GUIDE, **style}, label=label)


def data_ticks(ax: Axes, values) -> None:
    """x ticks at the measured values (e.g. the base widths), labelled plainly, no minor labels."""
    ax.set_xticks([float(v) for v in np.asarray(values)], [f"{v:g}" for v in np.asarray(values)])
    ax.xaxis.set_minor_formatter(NullFormatter())


def finish_log_axes(ax: Axes, x_values, heading: str, subtitle: str) -> None:
    """The common end of a log-scale figure: x ticks at the measured values, labelled log ticks, the title
    with its settings line, and the legend."""
    data_ticks(ax, x_values)
    log_ticks(ax)
    title(ax, heading, subtitle)
    ax.legend(fontsize="small")


def slope_text(slopes: xr.Dataset):
    """Legend suffix of a curve: its fitted slope, CI and the widths the fit used (``slopes.attrs["widths"]``)."""
    widths = slopes.attrs.get("widths") or []
    span = f", m={widths[0]}..{widths[-1]}" if widths else ""

    def suffix(sel: dict) -> str:
        one = slopes.sel({k: v for k, v in sel.items() if k in slopes.dims})
        return f" (slope {float(one.slope):.3f} [{float(one.ci_low):.3f}, {float(one.ci_high):.3f}]{span})"

    return suffix
