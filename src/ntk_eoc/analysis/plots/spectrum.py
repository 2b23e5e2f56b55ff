"""Figures of the spectrum of K_inf against depth, its gap to the deep limit, and the inverse-cosine
approximation (SCIENCE §4.2, [TGS25-Spec]). The limit does not depend on the width schedule, so these
figures have no line styles for schedules: colour is the activation, dotted black lines are theory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .style import CI_ALPHA, FIGSIZE, GUIDE, activation_colors, log_ticks, settings_text, title

_SPECTRUM_PANELS = (
    ("lambda_min_scaled", "λ_min(K∞) · n / l", "pred_lambda_min_scaled"),
    ("lambda_max_scaled", "λ_max(K∞) · n / l", "pred_lambda_max_scaled"),
    ("cond", "cond(K∞) = λ_max / λ_min", "pred_cond"),
    ("theta_offdiag_scaled_mean", "Θ_l(x, x') / l, x ≠ x'", "pred_theta_offdiag_scaled"),
)
# Leading terms of the gaps to the deep limit (SCIENCE §4.2), independent of Delta and of the data:
# Theta_l/l - 1/4 ~ (3/8) ln(l)/l (mean over pairs x != x') and cond(K_inf) - (1 + n/3) ~ (2n/3) ln(l)/l.
THETA_GAP_LOG_COEF = 3.0 / 8.0
COND_GAP_LOG_COEF_PER_POINT = 2.0 / 3.0
# The plain inverse-cosine form C (1 - rho_l)^-1/2 overestimates Theta_l by 1/8: relative error ~ 1/(2l).
INV_COS_RELERR_COEF = 0.5


def _activation_lines(spec: xr.Dataset) -> Iterator[tuple[str, str, xr.Dataset]]:
    if "activation" not in spec.dims:
        spec = spec.expand_dims("activation")
    colors = activation_colors(str(a) for a in spec.activation.values)
    for k in range(spec.sizes["activation"]):
        one = spec.isel(activation=k)
        name = str(one.activation.item())
        yield f"{name} (Δ = {float(one.delta):.2g})", colors[name], one


def _settings(spec: xr.Dataset, settings: Mapping[str, Any] | None) -> str:
    base = {"n_points": spec.attrs.get("n_points"), **(settings or {})}
    return settings_text(spec, base)


def _gap_panels(axes: tuple[Axes, Axes], spec: xr.Dataset) -> None:
    """|Theta_l/l - 1/4| and |cond - (1 + n/3)| against l (log-log) with their predicted ln(l)/l terms."""
    n = int(spec.attrs.get("n_points", 0)) or None
    for label, color, one in _activation_lines(spec):
        depth = one.depth.values
        theta_gap = np.abs(one.theta_offdiag_scaled_mean.values - float(one.pred_theta_offdiag_scaled))
        cond_gap = np.abs(one.cond.values - float(one.pred_cond))
        axes[0].plot(depth, theta_gap, color=color, marker=".", label=label)
        axes[1].plot(depth, cond_gap, color=color, marker=".", label=label)
    depth = spec.depth.values[spec.depth.values >= 2].astype(float)  # ln(1) = 0 has no place on a log axis
    axes[0].plot(depth, THETA_GAP_LOG_COEF * np.log(depth) / depth, **GUIDE, label="(3/8) ln(l) / l (theory)")
    if n is not None:
        coef = COND_GAP_LOG_COEF_PER_POINT * n
        axes[1].plot(depth, coef * np.log(depth) / depth, **GUIDE, label=f"(2n/3) ln(l) / l = {coef:.3g} ln(l) / l")
    axes[0].set(ylabel="|Θ_l / l − 1/4| (mean over x ≠ x')")
    axes[1].set(ylabel="|cond(K∞) − (1 + n/3)|")
    for ax in axes:
        ax.set(xscale="log", yscale="log")
        ax.legend(fontsize="x-small")


def plot_limit_spectrum(spec: xr.Dataset, settings: Mapping[str, Any] | None = None) -> Figure:
    """lambda_min n/l, lambda_max n/l, cond and Theta_l/l of K_inf vs depth with predicted limits (dotted),
    and the gaps |Theta_l/l - 1/4| and |cond - (1 + n/3)| on log-log axes with their ln(l)/l terms.

    ``spec``: :func:`ntk_eoc.analysis.spectrum.limit_spectrum` (optionally concatenated over "activation");
    ``settings``: fixed settings for the title (n_points, input_dim, dataset).
    """
    fig = Figure(figsize=(10.0, 11.0), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True)
    top = axes[:2].ravel()
    for label, color, one in _activation_lines(spec):
        for ax, (name, _, _) in zip(top, _SPECTRUM_PANELS, strict=True):
            ax.plot(one.depth, one[name], color=color, label=label)
        top[3].fill_between(
            one.depth, one.theta_offdiag_scaled_min, one.theta_offdiag_scaled_max, color=color, alpha=CI_ALPHA
        )
    for ax, (_, ylabel, pred) in zip(top, _SPECTRUM_PANELS, strict=True):
        ax.axhline(float(np.unique(spec[pred])[0]), **GUIDE, label="predicted limit")
        ax.set(xscale="log", ylabel=ylabel)
    top[2].set_yscale("log")  # cond spans orders of magnitude at small depth and small Delta
    _gap_panels((axes[2, 0], axes[2, 1]), spec)
    for ax in axes[2]:
        ax.set_xlabel("depth l")
    for ax in axes.ravel():
        log_ticks(ax)
    top[0].legend(fontsize="small")
    head = "Spectrum of K∞ against depth (every width schedule has this limit; band: min-max over pairs)"
    title(fig, head, _settings(spec, settings))
    return fig


def plot_inverse_cosine_error(spec: xr.Dataset, settings: Mapping[str, Any] | None = None) -> Figure:
    """|C (1 - rho_l)^-1/2 / Theta_l - 1| vs depth (max: thick, median: thin with dots, over pairs
    x != x'), log-log, with the predicted 1/(2l) (dotted). One legend for the activations (colours),
    one for the line kinds."""
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    for label, color, one in _activation_lines(spec):
        ax.plot(one.depth, one.inv_cos_relerr_max, color=color, lw=2.2, label=label)
        ax.plot(one.depth, one.inv_cos_relerr_median, color=color, lw=1, marker=".", label="_median")
    depth = spec.depth.values.astype(float)
    ax.plot(depth, INV_COS_RELERR_COEF / depth, **GUIDE, label="_theory")
    ax.set(xscale="log", yscale="log", xlabel="depth l", ylabel="relative error of Θ_l ≈ C (1 - ρ_l)^(-1/2)")
    log_ticks(ax)
    title(ax, "Inverse-cosine-distance approximation of K∞, C = 3π / (8√2 Δ)", _settings(spec, settings))
    kinds = [
        Line2D([], [], color="gray", lw=2.2, label="max over pairs x ≠ x'"),
        Line2D([], [], color="gray", lw=1, marker=".", label="median over pairs"),
        Line2D([], [], **GUIDE, label="1 / (2l) (theory)"),
    ]
    ax.add_artist(ax.legend(handles=kinds, fontsize="small", loc="lower left"))
    ax.legend(fontsize="small", loc="upper right")
    return fig
