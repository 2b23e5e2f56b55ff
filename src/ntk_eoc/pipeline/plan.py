"""The plan of a workflow run: the DAG side of ntk-eoc, without JAX.

:class:`Plan` is built once when Snakemake parses the workflow (``workflow/rules/common.smk``). It owns

- the Snakemake-level config (checked against ``workflow/schemas/config.schema.yaml``),
- the Hydra composition of the experiment's runs (:mod:`.compose`) and their validation (:mod:`.runs`),
- the table of runs (:mod:`.table`) and of the units the rules work on (datasets, groups of base widths
  and blocks of draws, limits, spectra),
- every output, log and benchmark path, and the wildcard constraints,
- the params (one typed job spec per job, :mod:`.specs`), input and resources functions of every rule
  (the memory model and the job size of each stage are in :mod:`.resources`),
- the final targets, a function of the table of runs.

Rule files use only ``PLAN`` (made in ``common.smk``): ``PLAN.output("sample")``, ``PLAN.sample_spec``, ...

Output folders and names: :mod:`.outputs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..math.activations import Activation
from .compose import compose_runs, validate_workflow_config
from .outputs import FIGURES, MIN_EIGEN_OUTPUTS, STORE_PATTERNS, TABLES, figure_names, view_name
from .resources import min_eigen_mem_mb, sample_mem_mb, width_groups
from .runs import ConfigError, RunConfig, Study
from .specs import (
    ArchiveSpec,
    ConcentrationSpec,
    DatasetSpec,
    FiguresSpec,
    FluctuationsSpec,
    LimitSpec,
    MinEigenSpec,
    MinEigenSummarySpec,
    RunConfigSpec,
    SampleSpec,
    SpectrumSpec,
)
from .table import Run, run_axes

__all__ = ["FIGURES", "STORE_PATTERNS", "TABLES", "Plan", "figure_names", "view_name"]  # outputs: re-exported

# The fluctuation stage runs when every run has this many draws: a variance and its bootstrap interval
# need tens of draws (and measurable() at least 16 positive ones per diagonal entry).
FLUCTUATION_MIN_DRAWS = 32
# Datasets up to this n^2 m_0 (a fraction of a second) are checked for distinct points when the workflow
# is planned; larger ones by their dataset job.
DISTINCT_CHECK_FLOPS = 10**9


def _alternation(names: Iterable[str]) -> str:
    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


def _stem(pattern: str) -> str:
    """An output pattern without its extension."""
    return pattern.rsplit(".", 1)[0]


class Plan:
    """Everything the rules need, from the Snakemake config (module doc)."""

    def __init__(self, config: Mapping[str, Any], schema_path: str | Path) -> None:
        validate_workflow_config(config, schema_path)
        self.experiment: str = config["experiment"]
        self.results_root = str(config["results_dir"])
        self.view = view_name(self.experiment, config["overrides"], config.get("sweep"), config.get("name"))
        self.results = f"{self.results_root}/{self.view}"
        self.stores = f"{self.results_root}/stores"
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
        self.datasets = _by(self.runs, "dataset")
        self._check_datasets()
        self.samples = _by(self.runs, "sample_key")
        self.limits = _by(self.runs, "limit_key") if self.study == Study.LIMIT else {}
        self.spectra = _by(self.runs, "spectrum_key") if self.study == Study.LIMIT else {}
        self.concentrations = _by(self.runs, "concentration_key") if self.study == Study.LIMIT else {}

    def _check_shared_settings(self) -> None:
        """The analysis sections summarize all runs at once, so every run must have the same."""
        first_id, first = next(iter(self.runs.items()))
        for rid, run in self.runs.items():
            for section in ("concentration", "figures", "claims", "min_eigen"):
                if getattr(run.config, section) != getattr(first.config, section):
                    raise ConfigError(section, rid, f"analysis section differs from run {first_id}")

    def _check_datasets(self) -> None:
        """Refuse, before any job, a dataset with coinciding points (or opposite ones when an activation
        has a parity): K would be singular. Datasets of more than :data:`DISTINCT_CHECK_FLOPS` work are
        checked by their dataset job instead, before anything reads them."""
        from ..math.datasets import check_distinct

        for name, run in self.datasets.items():
            ds = run.config.dataset
            if ds.n_points**2 * ds.input_dim > DISTINCT_CHECK_FLOPS:
                continue
            try:
                check_distinct(ds.make(), antipodal=self._antipodal(name))
            except ValueError as err:
                raise ConfigError("dataset", name, str(err).removeprefix("dataset: ")) from None

    def _antipodal(self, dataset: str) -> bool:
        """Opposite points are refused when an activation reading the dataset has a parity."""
        return any(run.config.activation.has_parity for run in self.runs.values() if run.dataset == dataset)

    # --- paths -----------------------------------------------------------------------------------

    def output(self, stage: str) -> str:
        """Output pattern of a stage (with wildcards)."""
        if stage == "run_config":
            return f"{self.results}/configs/{{run}}.yaml"
        return f"{self.stores}/{STORE_PATTERNS[stage]}"

    def log(self, stage: str) -> str:
        """Log pattern of a stage: beside its outputs, under ``logs/<stage>/`` of the same folder."""
        if stage == "run_config":
            return f"{self.results}/logs/run_config/{{run}}.log"
        return f"{self.stores}/logs/{_stem(STORE_PATTERNS[stage])}.log"

    def benchmark(self, stage: str) -> str:
        """Benchmark pattern of a shared stage, under ``stores/benchmarks/`` with the output's path."""
        return f"{self.stores}/benchmarks/{_stem(STORE_PATTERNS[stage])}.tsv"

    def log_of(self, stage: str) -> str:
        """Log of a stage that runs once per view."""
        return f"{self.results}/logs/{stage}.log"

    def benchmark_of(self, stage: str) -> str:
        """Benchmark of a stage that runs once per view."""
        return f"{self.results}/benchmarks/{stage}.tsv"

    def path(self, stage: str, **wildcards: Any) -> str:
        """A concrete output path of a stage."""
        return self.output(stage).format(**wildcards)

    def result(self, relative: str) -> str:
        """A path in the view folder."""
        return f"{self.results}/{relative}"

    def wildcard_constraints(self) -> dict[str, str]:
        """Regular expressions of every wildcard: the known names, or digits."""
        return {
            "run": _alternation(self.runs),
            "dataset": _alternation(self.datasets),
            "sample_key": _alternation(self.samples),
            "limit_key": _alternation(self.limits),
            "spectrum_key": _alternation(self.spectra),
            "concentration_key": _alternation(self.concentrations),
            "widths": r"\d+(?:-\d+)*",
            "width": r"\d+",
            "start": r"\d+",
            "stop": r"\d+",
        }

    # --- the table of units ----------------------------------------------------------------------

    def sample_paths(self, run: Run) -> list[str]:
        """Every sample store a run reads: each group of base widths, each block of draws."""
        cfg = run.config
        return [
            self.path("sample", sample_key=run.sample_key, widths="-".join(map(str, group)), start=a, stop=b)
            for group in width_groups(cfg)
            for a, b in cfg.blocks()
        ]

    def min_eigen_paths(self, run: Run) -> list[str]:
        """Every min_eigen store of a run: each base width, each block of draws."""
        cfg = run.config
        blocks = cfg.blocks()
        return [
            self.path("min_eigen", sample_key=run.sample_key, width=m, start=a, stop=b)
            for m in cfg.base_widths
            for a, b in blocks
        ]

    @property
    def fluctuations(self) -> bool:
        """Fluctuations are measured when every run has :data:`FLUCTUATION_MIN_DRAWS` draws and only dense
        layers: the product-form law (SCIENCE §6) is derived for dense layers, not factorized ones."""
        runs = [run.config for run in self.runs.values()]
        dense = not any(any(cfg.factorized) for cfg in runs)
        return self.study == Study.LIMIT and dense and min(cfg.draws for cfg in runs) >= FLUCTUATION_MIN_DRAWS

    def figure_names(self) -> list[str]:
        """The figures the experiment can draw: a comparison needs >= 2 values of its swept key."""
        if self.study != Study.LIMIT:
            return []
        names = figure_names(run.axes for run in self.runs.values())
        return names if self.fluctuations else [n for n in names if not n.startswith("fluctuations")]

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

    def final_targets(self) -> list[str]:
        """What ``rule all`` produces: the view's configs, figures and tables (they need every store)."""
        targets = [self.path("run_config", run=rid) for rid in self.runs]
        outputs = self.figures_outputs() if self.study == Study.LIMIT else self.min_eigen_summary_outputs()
        return targets + [path for path, _ in outputs.values()]

    def store_paths(self) -> list[str]:
        """Every shared store the view reads, directly or through another store (for the archive)."""
        paths = [self.path("dataset", dataset=name) for name in self.datasets]
        for run in self.runs.values():
            if self.study == Study.LIMIT:
                paths += self.sample_paths(run)
                paths.append(self.run_limit(run))
                stages = ("concentration", "fluctuations") if self.fluctuations else ("concentration",)
                paths += [self.path(s, concentration_key=run.concentration_key) for s in stages]
                paths.append(self.path("spectrum", spectrum_key=run.spectrum_key))
            else:
                paths += self.min_eigen_paths(run)
        return list(dict.fromkeys(paths))

    # --- input functions -------------------------------------------------------------------------

    def dataset_of(self, wildcards: Any) -> str:
        """Input: the dataset store of the job's run (any of sample_key, limit_key, spectrum_key)."""
        for key, table in (("sample_key", self.samples), ("limit_key", self.limits), ("spectrum_key", self.spectra)):
            if hasattr(wildcards, key):
                return self.path("dataset", dataset=table[getattr(wildcards, key)].dataset)
        raise KeyError(f"no dataset for the wildcards {dict(wildcards)}")

    def concentration_inputs(self, wildcards: Any) -> dict[str, list[str] | str]:
        """Inputs of rule concentration: the run's sample stores and its limit store."""
        run = self.concentrations[wildcards.concentration_key]
        return {"samples": self.sample_paths(run), "limit": self.run_limit(run)}

    def fluctuations_inputs(self, wildcards: Any) -> list[str]:
        """Input of rule fluctuations: the run's sample stores."""
        return self.sample_paths(self.concentrations[wildcards.concentration_key])

    def run_limit(self, run: Run) -> str:
        return self.path("limit", limit_key=run.limit_key)

    def figures_inputs(self) -> dict[str, list[str]]:
        """Inputs of rule figures: every run's concentration store (in run order) and every spectrum store."""
        return {
            "concentration": [
                self.path("concentration", concentration_key=run.concentration_key) for run in self.runs.values()
            ],
            "fluctuations": [
                self.path("fluctuations", concentration_key=run.concentration_key)
                for run in self.runs.values()
                if self.fluctuations
            ],
            "spectrum": [self.path("spectrum", spectrum_key=key) for key in self.spectra],
        }

    def min_eigen_inputs(self) -> list[str]:
        """Input of rule min_eigen_summary: every min_eigen store (none for study limit)."""
        if self.study != Study.MIN_EIGEN:
            return []
        return list(dict.fromkeys(p for run in self.runs.values() for p in self.min_eigen_paths(run)))

    # --- params: one typed spec per job ------------------------------------------------------------

    def run_config_spec(self, wildcards: Any) -> str:
        return RunConfigSpec(self.runs[wildcards.run].resolved).to_json()

    def dataset_spec(self, wildcards: Any) -> str:
        name = wildcards.dataset
        return DatasetSpec(self.datasets[name].config.dataset).to_json()

    def sample_spec(self, wildcards: Any) -> str:
        cfg, widths = self.samples[wildcards.sample_key].config, _widths(wildcards.widths)
        arches = tuple(cfg.architecture(m) for m in widths)
        s = cfg.sampler
        return SampleSpec(wildcards.sample_key, widths, arches, s.seed, s.method, s.dtype).to_json()

    def limit_spec(self, wildcards: Any) -> str:
        cfg = self.limits[wildcards.limit_key].config
        factorized = cfg.factorized if any(cfg.factorized) else None
        return LimitSpec(_ab(cfg.activation), cfg.depth, cfg.output_dim, factorized).to_json()

    def spectrum_spec(self, wildcards: Any) -> str:
        cfg = self.spectra[wildcards.spectrum_key].config
        return SpectrumSpec(_ab(cfg.activation), cfg.spectrum.depths).to_json()

    def concentration_spec(self, wildcards: Any) -> str:
        run = self.concentrations[wildcards.concentration_key]
        return ConcentrationSpec(run.concentration_key, run.limit_key, _analysed(run.config)).to_json()

    def fluctuations_spec(self, wildcards: Any) -> str:
        run = self.concentrations[wildcards.concentration_key]
        cfg, boot = run.config, run.config.concentration
        spec = FluctuationsSpec(
            run.concentration_key, _ab(cfg.activation), cfg.activation.name, str(cfg.schedule.name), cfg.depth,
            cfg.output_dim, boot.n_boot, boot.seed, boot.confidence, _analysed(cfg),
        )  # fmt: skip
        return spec.to_json()

    def figures_spec(self) -> str:
        cfg = next(iter(self.runs.values())).config
        runs = tuple((rid, tuple(run.axes.items())) for rid, run in self.runs.items())
        return FiguresSpec(cfg.concentration, cfg.figures, cfg.claims, runs).to_json()

    def min_eigen_spec(self, wildcards: Any) -> str:
        cfg, m = self.samples[wildcards.sample_key].config, int(wildcards.width)
        arch = cfg.architecture(m)
        return MinEigenSpec(wildcards.sample_key, m, arch, cfg.sampler.seed, cfg.sampler.method).to_json()

    def min_eigen_summary_spec(self) -> str:
        runs = tuple((rid, run.sample_key) for rid, run in self.runs.items())
        return MinEigenSummarySpec(next(iter(self.runs.values())).config.min_eigen, runs).to_json()

    def archive_spec(self) -> str:
        return ArchiveSpec(self.results, tuple(self.store_paths())).to_json()

    def archive_output(self) -> str:
        """The archive of the view: <results_dir>/archives/<view>.zip."""
        return f"{self.results_root}/archives/{self.view}.zip"

    # --- resources (memory models in .resources) --------------------------------------------------

    def sample_mem_mb(self, wildcards: Any) -> int:
        return sample_mem_mb(self.samples[wildcards.sample_key].config, _widths(wildcards.widths))

    def min_eigen_mem_mb(self, wildcards: Any) -> int:
        return min_eigen_mem_mb(self.samples[wildcards.sample_key].config, int(wildcards.width))

    # --- after the run -----------------------------------------------------------------------------

    def summary(self) -> str:
        """What the run found (:func:`.summary.summarize`): verdicts, warnings of every job the view
        depends on, and where the outputs are."""
        from .summary import summarize

        logs = [self._log_of_store(path) for path in self.store_paths()]
        return summarize(self.results, logs) + f"\n  shared stores: {self.stores}/"

    def _log_of_store(self, path: str) -> str:
        """The log of the job that wrote a shared store."""
        return f"{self.stores}/logs/{_stem(path.removeprefix(self.stores + '/'))}.log"


def _by(runs: Mapping[str, Run], attribute: str) -> dict[str, Run]:
    """Name -> the first run whose ``attribute`` has that name."""
    out: dict[str, Run] = {}
    for run in runs.values():
        out.setdefault(getattr(run, attribute), run)
    return out


def _widths(text: str) -> tuple[int, ...]:
    """The base widths of a ``m~<w1>-<w2>`` group wildcard."""
    return tuple(int(w) for w in text.split("-"))


def _analysed(cfg: RunConfig) -> dict[str, Any]:
    """The run's core config as an analysis stage records it: without the study and the sampler's
    ``draws_per_job``, which change no value it computes (its inputs, the sample stores, say how the
    draws were split)."""
    config = {k: v for k, v in cfg.core_config().items() if k != "study"}
    config["sampler"] = {k: v for k, v in config["sampler"].items() if k != "draws_per_job"}
    return config


def _ab(activation: Any) -> Activation:
    """The (a,b)-ReLU of a limit-study run (RunConfig refuses others for study limit)."""
    if not isinstance(activation, Activation):
        raise TypeError(f"no limit kernel for activation {activation.name!r}")
    return activation
