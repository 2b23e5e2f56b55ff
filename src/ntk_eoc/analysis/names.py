"""Closed sets of names shared by the analysis and its configuration (importable without xarray)."""

from __future__ import annotations

__all__ = ["BOUNDS", "DEFAULT_N_BOOT", "DEFAULT_QUANTILES", "DEVIATION_VARS", "NORMS", "PNG_DPI", "STATISTICS"]

# Matrix norms of a deviation K(theta) - K_inf: operator (spectral), Frobenius, max entry.
NORMS = ("op", "fro", "max")
# Per-draw deviation variables: <norm>_abs = ||K - K_inf||, <norm>_rel = ||K - K_inf|| / ||K_inf||.
DEVIATION_VARS = tuple(f"{norm}_{kind}" for kind in ("abs", "rel") for norm in NORMS)
# Summary statistics over draws: mean, median, and the 1 - 1/m quantile ("tail").
STATISTICS = ("mean", "median", "tail")
# Point value and confidence bounds of a summary.
BOUNDS = ("value", "ci_low", "ci_high")
# Deciles and quartiles: enough to draw a distribution band without storing every draw.
DEFAULT_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
# 2000 resamples put the Monte-Carlo error of a 95% percentile endpoint well below its sampling error.
DEFAULT_N_BOOT = 2000
# Resolution of PNG figures: sharp on screen and in the HTML report at ~100 KB per figure.
PNG_DPI = 150
