"""What a workflow run produces and where: the shared stores, the views, their figures and tables.

Two kinds of output folders under ``<results_dir>/``:

``stores/``
    Every store that costs compute, once, named by the values it holds (:mod:`.table`), shared by every
    experiment and variant that needs it. The log and benchmark of each job under ``stores/logs/`` and
    ``stores/benchmarks/``, with the store's path (``stores/logs/samples/.../draws_0-64.log``).

    ==================  ========================================================  ========================
    stage (rule)        output under ``stores/``                                  one job per
    ==================  ========================================================  ========================
    dataset             ``datasets/{dataset}.zarr``                               distinct dataset
    sample              ``samples/{sample_key}/m~{widths}/draws_{start}-{stop}.zarr``  group of base widths,
                                                                                  block of draws
    limit               ``limit/{limit_key}.zarr``                                (dataset, activation, l, m_l)
    concentration       ``concentration/{concentration_key}.zarr``                run (its widths, draws)
    fluctuations        ``fluctuations/{concentration_key}.zarr``                 run (its widths, draws)
    spectrum            ``spectrum/{spectrum_key}.zarr``                          (dataset, activation, depths)
    min_eigen           ``min_eigen/{sample_key}/m~{width}/draws_{start}-{stop}.zarr``  base width, block
    ==================  ========================================================  ========================

``<view>/``
    What one experiment, or one variant of it, shows: ``configs/<run>.yaml``, ``figures/``, ``tables/``
    (claims included), and the logs of those jobs. The view of ``--config experiment=demo`` is ``demo``;
    with ``overrides`` or ``sweep`` it is ``demo+<what they change>`` (e.g. ``demo+draws=512``), or the
    ``name`` given in the config, so variants never overwrite the experiment's figures and tables while
    reusing every store they share with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..validate import ConfigError
from .table import config_hash

__all__ = ["FIGURES", "FIGURE_NEEDS", "MIN_EIGEN_OUTPUTS", "STORE_PATTERNS", "TABLES", "figure_names", "view_name"]

# Output of each shared stage under <results_dir>/stores/ (module doc).
STORE_PATTERNS = {
    "dataset": "datasets/{dataset}.zarr",
    "sample": "samples/{sample_key}/m~{widths}/draws_{start}-{stop}.zarr",
    "limit": "limit/{limit_key}.zarr",
    "concentration": "concentration/{concentration_key}.zarr",
    "fluctuations": "fluctuations/{concentration_key}.zarr",
    "spectrum": "spectrum/{spectrum_key}.zarr",
    "min_eigen": "min_eigen/{sample_key}/m~{width}/draws_{start}-{stop}.zarr",
}
# The figures of study limit, in drawing order, and the swept key each comparison needs (>= 2 values).
FIGURES = (
    "deviation_vs_width",
    "schedules",
    "activations",
    "output_dim",
    "limit_spectrum",
    "inverse_cosine",
    "kernel_spectrum",
    "factorized",
    "fluctuations",
    "fluctuations_depth",
)
FIGURE_NEEDS = {
    "fluctuations_depth": "depth",
    "schedules": "depth",
    "activations": "activation",
    "output_dim": "output_dim",
    "factorized": "factorization",
}
TABLES = (
    "concentration_summary.csv",
    "slopes.csv",
    "kernel_spectrum_summary.csv",
    "limit_spectrum.csv",
    "cost.csv",
    "fluctuations.csv",
    "claims.csv",
    "claims.md",
)
MIN_EIGEN_OUTPUTS = {
    "table": "tables/min_eigen.csv",
    "claims_csv": "tables/min_eigen_claims.csv",
    "claims_md": "tables/min_eigen_claims.md",
    "png": "figures/min_eigen.png",
    "pdf": "figures/min_eigen.pdf",
}
# Folder names under <results_dir>/ that a view cannot take.
RESERVED = ("stores", "archives")
# A view name derived from overrides and sweeps is cut here (and ends in a hash of the rest).
VIEW_NAME_CHARS = 80
_VIEW_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_+=,.-]*$")


def figure_names(all_axes: Iterable[Mapping[str, Any]]) -> list[str]:
    """The figures of study limit that runs with these axes can draw: a comparison needs >= 2 values
    of its swept key (:data:`FIGURE_NEEDS`)."""
    values: dict[str, set] = {}
    for axes in all_axes:
        for key, value in axes.items():
            values.setdefault(key, set()).add(value)
    return [f for f in FIGURES if f not in FIGURE_NEEDS or len(values.get(FIGURE_NEEDS[f], ())) >= 2]


def view_name(experiment: str, overrides: Sequence[str], sweep: Sequence[str] | None, name: str | None) -> str:
    """The folder of an experiment's figures and tables: ``name`` if given, the experiment without overrides
    and sweeps, else ``<experiment>+<override>+<sweep entry>...`` with ``/``, ``~`` turned into ``-`` and
    other characters outside ``[A-Za-z0-9_+=,.-]`` dropped (``demo+draws=512``,
    ``demo+activation=relu,abs,leaky_relu``)."""
    if name is not None:
        if not _VIEW_NAME.match(name) or name in RESERVED:
            reason = "must be a plain folder name (letters, digits, _+=,.-), not stores or archives"
            raise ConfigError("name", name, reason)
        return name
    entries = [entry.replace("/", "-").replace("~", "-") for entry in [*overrides, *(sweep or [])]]
    parts = [re.sub(r"[^A-Za-z0-9_+=,.-]", "", entry) for entry in entries]
    label = "+".join([experiment, *parts])
    if len(label) > VIEW_NAME_CHARS:
        label = f"{label[: VIEW_NAME_CHARS - 7]}-{config_hash(parts)}"
    return label
