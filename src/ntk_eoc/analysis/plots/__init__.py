"""Figures of the concentration and spectrum statistics: Dataset in, ``matplotlib.figure.Figure`` out.

Plots pick and draw data computed by :mod:`ntk_eoc.analysis.stats` and :mod:`ntk_eoc.analysis.spectrum`; they never
compute a statistic. Reference slopes and predicted limits are drawn from the datasets (``pred_*``
variables) or from the stated theory exponents and leading terms (SCIENCE §4). Figures are built on
``matplotlib.figure.Figure`` directly (no pyplot state; files are rendered by the Agg/PDF canvases).

Inputs:
- ``summary``: :func:`ntk_eoc.analysis.stats.summarize` output, variables over (..., statistic, bound);
- ``spec``: :func:`ntk_eoc.analysis.spectrum.limit_spectrum` output (optionally concatenated over "activation");
- ``factor``: :func:`ntk_eoc.analysis.stats.theory_bound_factor` values over "activation" (and "output_dim").
A figure draws one line per combination of at most two extra dims; select the rest before calling.
Every figure keeps the conventions of :mod:`.style`: colour = activation, line style = width schedule,
dotted = theory, and a title that states the settings it holds fixed (``settings=``).
"""

from .concentration import (
    plot_activation_factor,
    plot_deviation_vs_cost,
    plot_deviation_vs_width,
    plot_kernel_spectrum_vs_width,
    plot_output_dimension,
    plot_schedule_comparison,
)
from .fluctuations import plot_fluctuation_law, plot_fluctuations_vs_depth
from .min_eigen import plot_min_eigen
from .spectrum import plot_inverse_cosine_error, plot_limit_spectrum
from .style import PNG_DPI, save_figure

__all__ = [
    "PNG_DPI",
    "plot_activation_factor",
    "plot_deviation_vs_cost",
    "plot_deviation_vs_width",
    "plot_fluctuation_law",
    "plot_fluctuations_vs_depth",
    "plot_inverse_cosine_error",
    "plot_kernel_spectrum_vs_width",
    "plot_limit_spectrum",
    "plot_min_eigen",
    "plot_output_dimension",
    "plot_schedule_comparison",
    "save_figure",
]
