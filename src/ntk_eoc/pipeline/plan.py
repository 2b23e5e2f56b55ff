"""The plan of a workflow run: the DAG side of ntk-eoc, without JAX.

:class:`Plan` is built once when Snakemake parses the workflow (``workflow/rules/common.smk``). It owns

- the Snakemake-level config (checked against ``workflow/schemas/config.schema.yaml``),
- the Hydra composition of the experiment's runs (:mod:`.compose`) and their validation (:mod:`.runs`),
- the table of runs (:mod:`.table`) and of the units the rules work on (dataset, draw blocks, limits,
  spectra),
- every output, log and benchmark path, and the wildcard constraints,
- the params (one typed job spec per job, :mod:`.specs`), input and resources functions of every rule
  (the one memory model of each stage is in :mod:`.resources`),
- the final targets, a function of the table of runs.

Rule files use only ``PLAN`` (made in ``common.smk``): ``PLAN.output("sample")``, ``PLAN.sample_spec``, ...

Paths, relative to ``<results_dir>/<experiment>/`` (``{run}`` is the run id ``key~value__key~value``
over the swept keys):

==================  ================================================  =======================
stage (rule)        output                                            one job per
==================  ================================================  =======================
run_config          ``configs/{run}.yaml``                            run
dataset             ``datasets/{dataset_id}.zarr``                    distinct dataset
sample              ``samples/{run}/m~{width}/draws_{start}-{stop}.zarr``  run, base width, block
gather              ``gathered/{run}.zarr``                           run
limit               ``limit/{limit_id}.zarr``                         (dataset, activation, depth, m_l)
concentration       ``concentration/{run}.zarr``                      run
spectrum            ``spectrum/{spectrum_id}.zarr``                   (dataset, activation, depths)
figures             ``figures/*.{png,pdf}``, ``tables/*``             experiment
min_eigen           ``min_eigen/{run}/m~{width}/draws_{start}-{stop}.zarr``  run, base width, block
min_eigen_summary   ``tables/min_eigen*``, ``figures/min_eigen.*``    experiment
==================  ================================================  =======================

Logs go to ``logs/<experiment>/<stage>/...log`` and benchmarks to
``<results_dir>/<experiment>/benchmarks/<stage>/...tsv``, with the output's wildcards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..math.activations import Activation
from .compose import compose_runs
from .resources import min_eigen_mem_mb, sample_mem_mb
from .runs import ConfigError, RunConfig, Study
from .specs import (
    ArchiveSpec,
    ConcentrationSpec,
    DatasetSpec,
    FiguresSpec,
    GatherSpec,
    LimitSpec,
    MinEigenSpec,
    MinEigenSummarySpec,
    RunConfigSpec,
    SampleSpec,
    SpectrumSpec,
)
from .table import Run, run_axes

__all__ = ["FIGURES", "TABLES", "Plan", "figure_names"]

# Output of each stage under results/<experiment>/ (module doc).
PATTERNS = {
    "run_config": "configs/{run}.yaml",
    "dataset": "datasets/{dataset_id}.zarr",
    "sample": "samples/{run}/m~{width}/draws_{start}-{stop}.zarr",
    "gather": "gathered/{run}.zarr",
    "limit": "limit/{limit_id}.zarr",
    "concentration": "concentration/{run}.zarr",
    "spectrum": "spectrum/{spectrum_id}.zarr",
    "min_eigen": "min_eigen/{run}/m~{width}/draws_{start}-{stop}.zarr",
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
)
FIGURE_NEEDS = {
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


def figure_names(all_axes: Iterable[Mapping[str, Any]]) -> list[str]:
    """The figures of study limit that runs with these axes can draw: a comparison needs >= 2 values
    of its swept key (:data:`FIGURE_NEEDS`)."""
    values: dict[str, set] = {}
    for axes in all_axes:
        for key, value in axes.items():
            values.setdefault(key, set()).add(value)
    return [f for f in FIGURES if f not in FIGURE_NEEDS or len(values.get(FIGURE_NEEDS[f], ())) >= 2]


def _alternation(names) -> str:
    return "|".join(re.escape(name) for name in sorted(names))


class Plan:
    """Everything the rules need, from the Snakemake config (module doc)."""

    def __init__(self, config: Mapping[str, Any], schema_path: str | Path) -> None:
        validate_workflow_config(config, schema_path)
        self.experiment: str = config["experiment"]
        self.results_root = str(config["results_dir"])
        self.results = f"{self.results_root}/{self.experiment}"
        self.logs = f"logs/{self.experiment}"
        self.jax_cache_dir: str = config["jax_cache_dir"]
        composed = compose_runs(
            str(Path(config["hydra_config_dir"]).resolve()),
            config["hydra_config_name"],
            self.experiment,
            overrides=config["overrides"],
            sweep=config.get("sweep"),
        )
        self.runs: dict[str, Run] = {}
        for c in composed:
            run = RunConfig.from_dict(c.resolved)
            self.runs[c.run_id] = Run(c.run_id, run_axes(c.axes, run.activation.name), c.resolved, run)
        studies = sorted({str(run.config.study) for run in self.runs.values()})
        if len(studies) > 1:
            raise ConfigError("study", studies, "all runs of one experiment must have the same study")
        self.study = Study(studies[0])
        self._check_shared_settings()
        self.datasets = {run.dataset_id: run for run in self.runs.values()}
        self.limits = {run.limit_id: run for run in self.runs.values()}
        self.spectra = {run.spectrum_id: run for run in self.runs.values()} if self.study == Study.LIMIT else {}

    def _check_shared_settings(self) -> None:
        """The analysis sections summarize all runs at once, so every run must have the same."""
        first_id, first = next(iter(self.runs.items()))
        for rid, run in self.runs.items():
            for section in ("concentration", "figures", "min_eigen"):
                if getattr(run.config, section) != getattr(first.config, section):
                    raise ConfigError(section, rid, f"analysis section differs from run {first_id}")

    # --- paths -----------------------------------------------------------------------------------

    def output(self, stage: str) -> str:
        """Output pattern of a stage (with wildcards)."""
        return f"{self.results}/{PATTERNS[stage]}"

    def log(self, stage: str) -> str:
        """Log pattern of a stage: logs/<experiment>/<stage>/<output pattern>.log."""
        return f"{self.logs}/{stage}/{_stem(PATTERNS[stage])}.log"

    def benchmark(self, stage: str) -> str:
        """Benchmark pattern of a stage: <results>/benchmarks/<stage>/<output pattern>.tsv."""
        return f"{self.results}/benchmarks/{stage}/{_stem(PATTERNS[stage])}.tsv"

    def log_of(self, stage: str) -> str:
        """Log of a stage that runs once per experiment: logs/<experiment>/<stage>/<stage>.log."""
        return f"{self.logs}/{stage}/{stage}.log"

    def benchmark_of(self, stage: str) -> str:
        """Benchmark of a stage that runs once per experiment."""
        return f"{self.results}/benchmarks/{stage}/{stage}.tsv"

    def path(self, stage: str, **wildcards: Any) -> str:
        """A concrete output path of a stage."""
        return self.output(stage).format(**wildcards)

    def result(self, relative: str) -> str:
        """A path under results/<experiment>/."""
        return f"{self.results}/{relative}"

    def wildcard_constraints(self) -> dict[str, str]:
        """Regular expressions of every wildcard: the known ids, or digits."""
        return {
            "run": _alternation(self.runs),
            "dataset_id": _alternation(self.datasets),
            "limit_id": _alternation(self.limits),
            "spectrum_id": _alternation(self.spectra) or "(?!)",
            "width": r"\d+",
            "start": r"\d+",
            "stop": r"\d+",
        }

    # --- the table of units ----------------------------------------------------------------------

    def block_paths(self, stage: str, run_id: str) -> list[str]:
        """Every store of ``stage`` (sample or min_eigen) of a run: all base widths, all draw blocks."""
        cfg = self.runs[run_id].config
        return [
            self.path(stage, run=run_id, width=m, start=a, stop=b) for m in cfg.base_widths for a, b in cfg.blocks()
        ]

    def figure_names(self) -> list[str]:
        """The figures the experiment can draw: a comparison needs >= 2 values of its swept key."""
        if self.study != Study.LIMIT:
            return []
        return figure_names(run.axes for run in self.runs.values())

    def figures_outputs(self) -> dict[str, tuple[str, str | None]]:
        """Named outputs of rule figures: key -> (path, report caption name or None)."""
        out: dict[str, tuple[str, str | None]] = {}
        for name in self.figure_names():
            out[f"png_{name}"] = (self.result(f"figures/{name}.png"), name)
            out[f"pdf_{name}"] = (self.result(f"figures/{name}.pdf"), None)
        for table in TABLES:
            out[table.replace(".", "_")] = (self.result(f"tables/{table}"), "claims" if table == "claims.csv" else None)
        return out

    def min_eigen_summary_outputs(self) -> dict[str, tuple[str, str | None]]:
        """Named outputs of rule min_eigen_summary: key -> (path, report caption name or None)."""
        return {k: (self.result(v), "min_eigen" if k == "png" else None) for k, v in MIN_EIGEN_OUTPUTS.items()}

    def final_targets(self, wildcards: Any = None) -> list[str]:
        """What ``rule all`` produces: the configs, then per study the stores and summaries."""
        targets = [self.path("run_config", run=rid) for rid in self.runs]
        if self.study == Study.LIMIT:
            targets += [self.path("gather", run=rid) for rid in self.runs]
            targets += [self.path("limit", limit_id=run.limit_id) for run in self.runs.values()]
            targets += [path for path, _ in self.figures_outputs().values()]
        else:
            targets += [path for path, _ in self.min_eigen_summary_outputs().values()]
        return list(dict.fromkeys(targets))

    # --- input functions -------------------------------------------------------------------------

    def run_dataset(self, wildcards: Any) -> str:
        """Input: the dataset store of ``wildcards.run``."""
        return self.path("dataset", dataset_id=self.runs[wildcards.run].dataset_id)

    def limit_dataset(self, wildcards: Any) -> str:
        """Input: the dataset store of ``wildcards.limit_id``."""
        return self.path("dataset", dataset_id=self.limits[wildcards.limit_id].dataset_id)

    def spectrum_dataset(self, wildcards: Any) -> str:
        """Input: the dataset store of ``wildcards.spectrum_id``."""
        return self.path("dataset", dataset_id=self.spectra[wildcards.spectrum_id].dataset_id)

    def run_samples(self, wildcards: Any) -> list[str]:
        """Input: every sample store of ``wildcards.run``."""
        return self.block_paths("sample", wildcards.run)

    def run_limit(self, wildcards: Any) -> str:
        """Input: the limit store of ``wildcards.run``."""
        return self.path("limit", limit_id=self.runs[wildcards.run].limit_id)

    def all_concentration(self) -> list[str]:
        """Input of rule figures: every concentration store."""
        return [self.path("concentration", run=rid) for rid in self.runs]

    def all_spectra(self) -> list[str]:
        """Input of rule figures: every spectrum store."""
        return [self.path("spectrum", spectrum_id=sid) for sid in self.spectra]

    def all_min_eigen(self) -> list[str]:
        """Input of rule min_eigen_summary: every min_eigen store (none for study limit)."""
        if self.study != Study.MIN_EIGEN:
            return []
        return [path for rid in self.runs for path in self.block_paths("min_eigen", rid)]

    # --- params: one typed spec per job ------------------------------------------------------------

    def run_config_spec(self, wildcards: Any) -> str:
        return RunConfigSpec(self.runs[wildcards.run].resolved).to_json()

    def dataset_spec(self, wildcards: Any) -> str:
        return DatasetSpec(self.datasets[wildcards.dataset_id].config.dataset).to_json()

    def sample_spec(self, wildcards: Any) -> str:
        cfg, m = self.runs[wildcards.run].config, int(wildcards.width)
        arch = cfg.architecture(m)
        return SampleSpec(wildcards.run, m, arch, cfg.sampler.seed, cfg.sampler.method, cfg.sampler.dtype).to_json()

    def gather_spec(self, wildcards: Any) -> str:
        run = self.runs[wildcards.run]
        axes = tuple(run.axes.items())
        spec = GatherSpec(self.experiment, run.run_id, run.dataset_id, run.limit_id, axes, run.config.core_config())
        return spec.to_json()

    def limit_spec(self, wildcards: Any) -> str:
        cfg = self.limits[wildcards.limit_id].config
        factorized = cfg.factorized if any(cfg.factorized) else None
        return LimitSpec(_ab(cfg), cfg.depth, cfg.output_dim, factorized).to_json()

    def spectrum_spec(self, wildcards: Any) -> str:
        cfg = self.spectra[wildcards.spectrum_id].config
        return SpectrumSpec(_ab(cfg), cfg.spectrum.depths).to_json()

    def concentration_spec(self, wildcards: Any) -> str:
        run = self.runs[wildcards.run]
        axes = tuple(run.axes.items())
        return ConcentrationSpec(run.run_id, run.limit_id, axes, run.config.core_config()).to_json()

    def figures_spec(self) -> str:
        cfg = next(iter(self.runs.values())).config
        return FiguresSpec(cfg.concentration, cfg.figures).to_json()

    def min_eigen_spec(self, wildcards: Any) -> str:
        cfg, m = self.runs[wildcards.run].config, int(wildcards.width)
        return MinEigenSpec(wildcards.run, m, cfg.architecture(m), cfg.sampler.seed, cfg.sampler.method).to_json()

    def archive_spec(self) -> str:
        return ArchiveSpec(self.results).to_json()

    def archive_output(self) -> str:
        """The archive of the experiment: <results_dir>/archives/<experiment>.zip."""
        return f"{self.results_root}/archives/{self.experiment}.zip"

    def min_eigen_summary_spec(self) -> str:
        return MinEigenSummarySpec(next(iter(self.runs.values())).config.min_eigen).to_json()

    # --- resources: the memory model of each stage (module functions below) -------------------------

    def sample_mem_mb(self, wildcards: Any) -> int:
        return sample_mem_mb(self.runs[wildcards.run].config, int(wildcards.width))

    def min_eigen_mem_mb(self, wildcards: Any) -> int:
        return min_eigen_mem_mb(self.runs[wildcards.run].config, int(wildcards.width))

    # --- after the run -----------------------------------------------------------------------------

    def summary(self) -> str:
        """Where the outputs are: one line per output folder of the experiment."""
        folders = sorted(p for p in Path(self.results).iterdir() if p.is_dir())
        lines = [f"ntk-eoc: experiment {self.experiment!r} is complete; outputs under {self.results}/:"]
        lines += [f"  {p}/  ({sum(1 for _ in p.iterdir())} entries)" for p in folders]
        lines.append(f"  logs: {self.logs}/")
        return "\n".join(lines)


def _ab(cfg: RunConfig) -> Activation:
    """The (a,b)-ReLU of a limit-study run (checked by RunConfig)."""
    if not isinstance(cfg.activation, Activation):
        raise TypeError(f"no limit kernel for activation {cfg.activation.name!r}")
    return cfg.activation


def _stem(pattern: str) -> str:
    """An output pattern without its extension."""
    return pattern.rsplit(".", 1)[0]


def validate_workflow_config(cfg: Mapping[str, Any], schema_path: str | Path) -> None:
    """Check the Snakemake-level config against its JSON schema; ConfigError naming key and value."""
    import jsonschema
    import yaml

    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(dict(cfg)))
    if error is None:
        return
    if error.validator == "additionalProperties":
        extra = sorted(set(cfg) - set(schema.get("properties", {})))
        raise ConfigError(extra[0], cfg[extra[0]], f"unknown key; allowed: {', '.join(schema['properties'])}")
    key = ".".join(str(p) for p in error.absolute_path) or "config"
    raise ConfigError(key, error.instance, error.message)
