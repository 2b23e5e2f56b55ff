"""What a workflow run produces and where: the shared stores, the views, their figures and tables.

Two kinds of output folders under ``<results_dir>/``:

``stores/``
    Every store that costs compute, once, named by the values it holds (below), shared by every
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
    fluctuations        ``fluctuations/{fluctuations_key}.zarr``                  run, bootstrap settings
    first_order         ``first_order/{first_order_key}.zarr``                    network, model settings
    spectrum            ``spectrum/{spectrum_key}.zarr``                          (dataset, activation, depths)
    min_eigen           ``min_eigen/{sample_key}/m~{width}/draws_{start}-{stop}.zarr``  base width, block
    ==================  ========================================================  ========================

``<view>/``
    What one experiment, or one variant of it, shows: ``configs/<run>.yaml``, ``figures/``, ``tables/``
    (claims included), and the logs of those jobs. The view of ``--config experiment=demo`` is ``demo``;
    with ``overrides`` or ``sweep`` it is ``demo+<what they change>`` (e.g. ``demo+draws=512``), or the
    ``name`` given in the config, so variants never overwrite the experiment's figures and tables while
    reusing every store they share with it.

Store names. Every store that costs compute lives once under ``<results_dir>/stores/``, named by the values it holds,
so that every experiment and variant whose runs need the same data reuse it:

=====================  ==========================================================================
name                   built from (example)
=====================  ==========================================================================
dataset                generator, n, m_0, seed, options: ``sphere-n32-d16-s0``, ``gaussian-n100-d10-s0-raw``
activation             config section: ``relu``, ``abs``, ``leaky_relu~0.1``, ``custom~0.25~0.75``
network                activation, schedule, depth, m_l, factorization, init:
                       ``relu__quadratic__depth~4__out~1``, ``relu__explicit~1-4__depth~3__out~1__rank~x-0.25-x``;
                       the schedule named by its widths (every schedule is ``constant`` at depth 2)
sampler                seed, dtype, method: ``seed~0__float32__auto``
=====================  ==========================================================================

A sample key ``<dataset>/<network>/<sampler>`` names everything a draw depends on (the base width and
the draw ids come from the file name). Names stay short because only non-default choices add parts
(``__init~standard``, ``__rank~...``); nothing is a bare hash except a suffix where a list would be long
(the spectrum's depths).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..math.architecture import Init
from ..validate import ConfigError
from .runs import RunConfig
from .specs import FLUCTUATION_INTERVAL

__all__ = [
    "FIGURES",
    "FIGURE_NEEDS",
    "MIN_EIGEN_OUTPUTS",
    "STORE_PATTERNS",
    "TABLES",
    "Run",
    "activation_name",
    "config_hash",
    "dataset_name",
    "figure_names",
    "network_name",
    "run_axes",
    "sampler_name",
    "view_name",
]

# Output of each shared stage under <results_dir>/stores/ (module doc).
STORE_PATTERNS = {
    "dataset": "datasets/{dataset}.zarr",
    "sample": "samples/{sample_key}/m~{widths}/draws_{start}-{stop}.zarr",
    "limit": "limit/{limit_key}.zarr",
    "concentration": "concentration/{concentration_key}.zarr",
    "fluctuations": "fluctuations/{fluctuations_key}.zarr",
    "first_order": "first_order/{first_order_key}.zarr",
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
# The view's manifest, written last by its figures or min_eigen_summary job (storage.view_manifest.MANIFEST).
VIEW_MANIFEST = "MANIFEST.json"
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
        if not isinstance(name, str) or not _VIEW_NAME.match(name) or name in RESERVED:
            reason = "must be a plain folder name (letters, digits, _+=,.-), not stores or archives"
            raise ConfigError("name", name, reason)
        if len(name) > VIEW_NAME_CHARS:
            raise ConfigError("name", f"{name[:20]}...", f"is {len(name)} characters long; at most {VIEW_NAME_CHARS}")
        return name
    entries = [entry.replace("/", "-").replace("~", "-") for entry in [*overrides, *(sweep or [])]]
    parts = [re.sub(r"[^A-Za-z0-9_+=,.-]", "", entry) for entry in entries]
    label = "+".join([experiment, *parts])
    if len(label) > VIEW_NAME_CHARS:
        label = f"{label[: VIEW_NAME_CHARS - 7]}-{config_hash(parts)}"
    return label


# --- store names ---------------------------------------------------------------------------------

_HASH_CHARS = 6


def config_hash(tree: Any) -> str:
    """Short sha1 of the canonical JSON of a config sub-tree."""
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:_HASH_CHARS]


def _num(value: float | int) -> str:
    """A number in a name, losslessly: ``%g`` where that is exact (0.1, 0.25, 1), else the shortest repr that
    reads back as the same float (0.1000001, 0.123456789), so two values never share a store."""
    short = f"{value:g}"
    return short if float(short) == float(value) else repr(float(value))


def dataset_name(cfg: RunConfig) -> str:
    """``<generator>-n<n>-d<m_0>-s<seed>``, plus ``-raw`` (gaussian not normalized) or ``-a<deg>`` (close_pairs)."""
    ds = cfg.dataset
    name = f"{ds.name}-n{ds.n_points}-d{ds.input_dim}-s{ds.seed}"
    if ds.normalize is False:
        name += "-raw"
    if ds.min_angle_deg is not None:
        name += f"-a{_num(ds.min_angle_deg)}"
    return name


def activation_name(cfg: RunConfig) -> str:
    """The activation's config section joined by ``~``: ``relu``, ``leaky_relu~0.1``, ``custom~0.25~0.75``."""
    section = cfg.activation.config()
    return "~".join([section["name"], *(_num(section[k]) for k in ("alpha", "a", "b") if k in section)])


def network_name(cfg: RunConfig) -> str:
    """``<activation>__<schedule>__depth~<l>__out~<m_l>`` plus ``__rank~<f_1>-...`` (factorized layers, x for
    dense) and ``__init~<init>`` (when not eoc). The schedule is the one that names the widths
    (:attr:`RunConfig.network_schedule`): identical networks of two schedules have one name."""
    schedule = cfg.network_schedule.config()
    sched = "~".join([schedule["name"], *(["-".join(map(str, schedule["factors"]))] if "factors" in schedule else [])])
    name = f"{activation_name(cfg)}__{sched}__depth~{cfg.depth}__out~{cfg.output_dim}"
    if cfg.rank_factors is not None:
        name += "__rank~" + "-".join("x" if f is None else _num(f) for f in cfg.rank_factors)
    if cfg.init != Init.EOC:
        name += f"__init~{cfg.init}"
    return name


def sampler_name(cfg: RunConfig) -> str:
    """``seed~<seed>__<dtype>__<method>``."""
    s = cfg.sampler
    return f"seed~{s.seed}__{s.dtype}__{s.method}"


def run_axes(composed_axes: Mapping[str, Any], activation_label: str) -> dict[str, Any]:
    """Swept values; every swept ``activation`` or ``activation.<param>`` key becomes one ``activation``
    axis valued by the activation's label (relu, abs, leaky_relu(0.5)), which spectrum stores carry too."""
    axes = {k: v for k, v in composed_axes.items() if k != "activation" and not k.startswith("activation.")}
    if len(axes) < len(composed_axes):
        axes["activation"] = activation_label
    return axes


@dataclass(frozen=True)
class Run:
    """One row of the table of runs: id, swept values (typed; the activation axis by name), config."""

    run_id: str
    axes: dict[str, Any]
    resolved: dict[str, Any]
    config: RunConfig

    @property
    def dataset(self) -> str:
        """Name of the dataset store."""
        return dataset_name(self.config)

    @property
    def sample_key(self) -> str:
        """``<dataset>/<network>/<sampler>``: everything a draw depends on but its base width and id."""
        return f"{self.dataset}/{network_name(self.config)}/{sampler_name(self.config)}"

    @property
    def limit_key(self) -> str:
        """``<dataset>/<activation>__depth~<l>__out~<m_l>`` (+ ``__fact~`` x/f per layer): the limit does not
        depend on the schedule, the base width or the sampler."""
        cfg = self.config
        name = f"{self.dataset}/{activation_name(cfg)}__depth~{cfg.depth}__out~{cfg.output_dim}"
        if any(cfg.factorized):
            name += "__fact~" + "-".join("f" if f else "x" for f in cfg.factorized)
        return name

    @property
    def spectrum_key(self) -> str:
        """``<dataset>/<activation>__depths~<min>-<max>x<count>-<hash>``."""
        depths = self.config.spectrum.depths
        span = f"{depths[0]}-{depths[-1]}x{len(depths)}-{config_hash(list(depths))}"
        return f"{self.dataset}/{activation_name(self.config)}__depths~{span}"

    @property
    def fluctuations_key(self) -> str:
        """``<concentration key>__boot~<interval>~<resamples>~<seed>~<confidence>``: the draws and every setting
        of their bootstrap intervals (``concentration`` section), so that another bootstrap writes its own store."""
        c = self.config.concentration
        return f"{self.concentration_key}__boot~{FLUCTUATION_INTERVAL}~{c.n_boot}~{c.seed}~{_num(c.confidence)}"

    @property
    def first_order_key(self) -> str:
        """``<dataset>/<network>/fo~<samples>~<draws>~<seed>``: the first-order model of the run's networks
        (SCIENCE §6.1) at base width 1, with its Monte Carlo neurons, Gaussian draws and seed."""
        c = self.config.concentration
        return f"{self.dataset}/{network_name(self.config)}/fo~{c.first_order_samples}~{c.first_order_draws}~{c.seed}"

    @property
    def concentration_key(self) -> str:
        """``<sample key>/m~<widths>__draws~<N>``: the deviations of every draw at every base width."""
        widths = "-".join(map(str, self.config.base_widths))
        return f"{self.sample_key}/m~{widths}__draws~{self.config.draws}"
