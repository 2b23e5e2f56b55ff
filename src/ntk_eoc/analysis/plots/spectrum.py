"""Figures of the spectrum of K_inf against depth and of the inverse-cosine approximation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .style import CI_ALPHA, COLORS, FIGSIZE

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
