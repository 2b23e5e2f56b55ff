"""The plan of a workflow run: the DAG side of ntk-eoc, without JAX.

:class:`Plan` is built once when Snakemake parses the workflow (``workflow/rules/common.smk``): it checks
the Snakemake-level config, composes and validates the experiment's runs (:mod:`.compose`, :mod:`.runs`)
and builds **one table of typed jobs**, ``Plan.jobs[stage][output path] -> Job``: each job's spec
(:mod:`.specs`), named inputs, log, benchmark and memory, every value built once. The route of each
draw (``sampler.method: auto`` resolved by the cost model) and its memory (:mod:`.resources`) are decided
here and handed to the job in its spec. Every rule function is one lookup in that table
(``PLAN.inputs("sample")``, ``PLAN.spec("sample")``, ``PLAN.mem_mb("sample")``), and so are the final
targets, the archive's list of stores and the summary's list of logs.

Adding a stage: a builder here (``_<stage>_jobs``), a spec in :mod:`.specs`, a stage module
``stages/<stage>.py`` and a rule file ``workflow/rules/<stage>.smk`` (docs/developing.md).

Output patterns: :data:`.outputs.STORE_PATTERNS` (each rule file quotes its own in its header).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..math.activations import Activation
from ..validate import ConfigError
from .compose import compose_runs, validate_workflow_config
from .outputs import (
    FIGURES,
    MIN_EIGEN_OUTPUTS,
    STORE_PATTERNS,
    TABLES,
    VIEW_MANIFEST,
    Run,
    figure_names,
    run_axes,
    view_name,
)
from .resources import min_eigen_mem_mb, sample_mem_mb, width_groups
from .runs import RunConfig, Study
from .specs import (
    ArchiveSpec,
    ConcentrationSpec,
    DatasetSpec,
    FiguresSpec,
    FirstOrderSpec,
    FluctuationsSpec,
    LimitSpec,
    MinEigenSpec,
    MinEigenSummarySpec,
    RunConfigSpec,
    SampleSpec,
    Spec,
    SpectrumSpec,
)

__all__ = ["FIGURES", "STORE_PATTERNS", "TABLES", "Job", "Plan", "figure_names", "view_name"]  # outputs: re-exported

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


@dataclass(frozen=True)
class Job:
    """One job of the plan: its stage, the typed spec it is given, what it reads (named inputs: a path or
    a tuple of paths), where it logs and benchmarks, and the memory it requests (MB; None: not requested)."""

    stage: str
    output: str
    spec: Spec
    inputs: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    log: str = ""
    benchmark: str | None = None
    mem_mb: int | None = None


# Stages that run once per view (no wildcards): their output is a set of named files.
VIEW_STAGES = ("figures", "min_eigen_summary", "archive")


class Plan:
    """The table of jobs of one workflow run, from the Snakemake config (module doc)."""

    def __init__(self, config: Mapping[str, Any], schema_path: str | Path) -> None:
        validate_workflow_config(config, schema_path)
        self.experiment: str = config["experiment"]
        self.results_root = str(config["results_dir"])
        self.view = view_name(self.experiment, config["overrides"], config.get("sweep"), config.get("name"))
        self.results = f"{self.results_root}/{self.view}"
        # What the view is made of, recorded in its manifest: a named view is not rerun with others.
        self.settings = {
            "experiment": self.experiment,
            "overrides": list(config["overrides"]),
            "sweep": None if config.get("sweep") is None else list(config["sweep"]),
        }
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
        if config.get("name") is not None:
            self._check_named_view(str(config["name"]), config)
        studies = sorted({str(run.config.study) for run in self.runs.values()})
        if len(studies) > 1:
            raise ConfigError("study", studies, "all runs of one experiment must have the same study")
        self.study = Study(studies[0])
        self._check_shared_settings()
        self.datasets = _by(self.runs, "dataset")
        self._check_datasets()
        self.samples = _by(self.runs, "sample_key")
        limit = self.study == Study.LIMIT
        self.limits = _by(self.runs, "limit_key") if limit else {}
        self.spectra = _by(self.runs, "spectrum_key") if limit else {}
        self.concentrations = _by(self.runs, "concentration_key") if limit else {}
        self.fluctuation_stores = _by(self.runs, "fluctuations_key") if limit else {}
        predicted = {rid: run for rid, run in self.runs.items() if limit and _first_order_applies(run.config)}
        self.first_order_stores = _by(predicted, "first_order_key")
        self.jobs: dict[str, dict[str, Job]] = {}
        if limit:
            builders = [self._sample_jobs, self._limit_jobs, self._concentration_jobs]
            builders += [self._fluctuations_jobs] if self.fluctuations else []
            builders += [self._first_order_jobs, self._spectrum_jobs, self._figures_jobs]
        else:
            builders = [self._min_eigen_jobs, self._min_eigen_summary_jobs]
        builders = [self._run_config_jobs, self._dataset_jobs, *builders]
        for build in builders:
            for job in build():
                self.jobs.setdefault(job.stage, {})[job.output] = job
        self.jobs["archive"] = {"": self._archive_job()}

    def _check_named_view(self, name: str, config: Mapping[str, Any]) -> None:
        """``name=`` may not take the view another experiment or variant writes to by default: an
        experiment's name (``demo``, ``depth``, ...) or a derived ``<experiment>+<override>`` name, unless it
        is this run's own; else the demo's configs, figures and tables would be rewritten by a variant's.
        Nor may it take a view of its own name that was made with other settings (experiment, overrides,
        sweep; recorded in the view's manifest): its configs, figures and tables would no longer be the
        ones that name stood for. Edits of the config files themselves rerun a view as usual."""
        derived = view_name(self.experiment, config["overrides"], config.get("sweep"), None)
        experiments = {p.stem for p in (Path(config["hydra_config_dir"]) / "experiment").glob("*.yaml")}
        if name != derived and (name in experiments or "+" in name):
            owner = f"experiment {name}" if name in experiments else "a variant of an experiment"
            raise ConfigError(
                "name", name, f"is the view of {owner}, which this run would overwrite; choose another name"
            )
        recorded = _recorded_settings(Path(self.results) / VIEW_MANIFEST)
        if recorded is not None and recorded != self.settings:
            made = ", ".join(f"{k}={v!r}" for k, v in recorded.items() if self.settings.get(k) != v)
            raise ConfigError(
                "name", name, f"{self.results}/ was made with {made}; choose another name, or remove the folder "
                "to make it anew",
            )  # fmt: skip

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
        """Log pattern of a stage: beside its outputs, under ``logs/`` of the same folder; a view stage logs
        to ``<view>/logs/<stage>.log``."""
        if stage in VIEW_STAGES:
            return f"{self.results}/logs/{stage}.log"
        if stage == "run_config":
            return f"{self.results}/logs/run_config/{{run}}.log"
        return f"{self.stores}/logs/{_stem(STORE_PATTERNS[stage])}.log"

    def benchmark(self, stage: str) -> str:
        """Benchmark pattern of a stage: ``stores/benchmarks/`` with the output's path, or
        ``<view>/benchmarks/<stage>.tsv`` for a view stage."""
        if stage in VIEW_STAGES:
            return f"{self.results}/benchmarks/{stage}.tsv"
        return f"{self.stores}/benchmarks/{_stem(STORE_PATTERNS[stage])}.tsv"

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
            "fluctuations_key": _alternation(self.fluctuation_stores),
            "first_order_key": _alternation(self.first_order_stores),
            "widths": r"\d+(?:-\d+)*",
            "width": r"\d+",
            "start": r"\d+",
            "stop": r"\d+",
        }

    # --- the table of jobs: one lookup per rule function ---------------------------------------------

    def job(self, stage: str, wildcards: Any = None) -> Job:
        """The job of ``stage`` whose output the wildcards name (a view stage has one job)."""
        if stage in VIEW_STAGES:
            return self.jobs[stage][""]
        path = self.output(stage).format(**(wildcards if isinstance(wildcards, Mapping) else dict(wildcards)))
        try:
            return self.jobs[stage][path]
        except KeyError:
            raise KeyError(f"the plan has no {stage} job writing {path}") from None

    def inputs(self, stage: str) -> Callable[[Any], dict[str, str | list[str]]]:
        """Input function of a rule (``unpack(PLAN.inputs(stage))``): the job's named inputs."""
        return lambda wildcards: {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.job(stage, wildcards).inputs.items()
        }

    def spec(self, stage: str) -> Callable[[Any], str]:
        """Params function of a rule: the job's spec as JSON."""
        return lambda wildcards: self.job(stage, wildcards).spec.to_json()

    def mem_mb(self, stage: str) -> Callable[[Any], int]:
        """Resources function of a rule: the job's memory (MB)."""
        return lambda wildcards: self.job(stage, wildcards).mem_mb

    def outputs(self, stage: str) -> dict[str, tuple[str, str | None]]:
        """Named outputs of a view stage: key -> (path, report caption name or None)."""
        if stage == "figures":
            return self.figures_outputs()
        if stage == "min_eigen_summary":
            return self.min_eigen_summary_outputs()
        raise KeyError(f"{stage} has no named outputs")

    # --- builders: one per stage ---------------------------------------------------------------------

    def _job(self, stage: str, output: str, spec: Spec, inputs: Mapping[str, Any] | None = None, **kw: Any) -> Job:
        """A job of a shared stage, logged and benchmarked at its output's path."""
        relative = _stem(output.removeprefix(self.stores + "/"))
        log = f"{self.stores}/logs/{relative}.log"
        bench = kw.pop("benchmark", f"{self.stores}/benchmarks/{relative}.tsv")
        return Job(stage, output, spec, dict(inputs or {}), log, bench, **kw)

    def _run_config_jobs(self) -> Iterable[Job]:
        for rid, run in self.runs.items():
            log = f"{self.results}/logs/run_config/{rid}.log"
            yield Job("run_config", self.path("run_config", run=rid), RunConfigSpec(run.resolved), {}, log)

    def _dataset_jobs(self) -> Iterable[Job]:
        for name, run in self.datasets.items():
            yield self._job(
                "dataset", self.path("dataset", dataset=name), DatasetSpec(run.config.dataset), benchmark=None
            )

    def _dataset_input(self, run: Run) -> dict[str, str]:
        return {"dataset": self.path("dataset", dataset=run.dataset)}

    def _sample_jobs(self) -> Iterable[Job]:
        for key, run in self.samples.items():
            cfg, s = run.config, run.config.sampler
            for group in width_groups(cfg):
                arches = tuple(cfg.architecture(m) for m in group)
                costs = [cfg.draw_cost(m) for m in group]
                methods, routes = tuple(c.method for c in costs), tuple(c.routes for c in costs)
                spec = SampleSpec(key, group, arches, s.seed, methods, routes, s.dtype)
                mem = sample_mem_mb(cfg, group)
                for a, b in cfg.blocks():
                    out = self.path("sample", sample_key=key, widths="-".join(map(str, group)), start=a, stop=b)
                    yield self._job("sample", out, spec, self._dataset_input(run), mem_mb=mem)

    def _limit_jobs(self) -> Iterable[Job]:
        for key, run in self.limits.items():
            cfg = run.config
            factorized = cfg.factorized if any(cfg.factorized) else None
            spec = LimitSpec(key, _ab(cfg.activation), cfg.depth, cfg.output_dim, factorized)
            yield self._job("limit", self.path("limit", limit_key=key), spec, self._dataset_input(run))

    def _spectrum_jobs(self) -> Iterable[Job]:
        for key, run in self.spectra.items():
            spec = SpectrumSpec(key, _ab(run.config.activation), run.config.spectrum.depths)
            yield self._job("spectrum", self.path("spectrum", spectrum_key=key), spec, self._dataset_input(run))

    def _concentration_jobs(self) -> Iterable[Job]:
        for key, run in self.concentrations.items():
            spec = ConcentrationSpec(key, run.limit_key, _analysed(run.config))
            inputs = {"samples": tuple(self.sample_paths(run)), "limit": self.run_limit(run)}
            yield self._job("concentration", self.path("concentration", concentration_key=key), spec, inputs)

    def _fluctuations_jobs(self) -> Iterable[Job]:
        for key, run in self.fluctuation_stores.items():
            cfg, boot = run.config, run.config.concentration
            spec = FluctuationsSpec(
                key, _ab(cfg.activation), cfg.activation.name, str(cfg.network_schedule.name), cfg.depth,
                cfg.output_dim, boot.n_boot, boot.seed, boot.confidence, _analysed(cfg),
            )  # fmt: skip
            inputs = {"samples": tuple(self.sample_paths(run))}
            yield self._job("fluctuations", self.path("fluctuations", fluctuations_key=key), spec, inputs)

    def _first_order_jobs(self) -> Iterable[Job]:
        for key, run in self.first_order_stores.items():
            cfg, c = run.config, run.config.concentration
            unit = cfg.network_schedule.widths(1, cfg.depth, cfg.dataset.input_dim, cfg.output_dim)[1:-1]
            spec = FirstOrderSpec(key, _ab(cfg.activation), tuple(unit), c.first_order_samples, c.first_order_draws,
                                  c.seed)  # fmt: skip
            out = self.path("first_order", first_order_key=key)
            yield self._job("first_order", out, spec, self._dataset_input(run))

    def _figures_jobs(self) -> Iterable[Job]:
        cfg = next(iter(self.runs.values())).config
        runs = tuple((rid, tuple(run.axes.items())) for rid, run in self.runs.items())
        figure_files = tuple((name, self.result(f"figures/{name}")) for name in self.figure_names())
        table_files = tuple((table, self.result(f"tables/{table}")) for table in TABLES)
        predicted = [(rid, run) for rid, run in self.runs.items() if run.first_order_key in self.first_order_stores]
        spec = FiguresSpec(
            cfg.concentration, cfg.figures, cfg.claims, runs, figure_files, table_files,
            tuple(rid for rid, _ in predicted), self.settings, cfg.core_config(),
        )  # fmt: skip
        keys = [run.concentration_key for run in self.runs.values()]
        inputs = {
            "concentration": tuple(self.path("concentration", concentration_key=k) for k in keys),
            "fluctuations": tuple(
                self.path("fluctuations", fluctuations_key=run.fluctuations_key)
                for run in self.runs.values()
                if self.fluctuations
            ),
            "first_order": tuple(self.path("first_order", first_order_key=run.first_order_key) for _, run in predicted),
            "spectrum": tuple(self.path("spectrum", spectrum_key=key) for key in self.spectra),
            "configs": tuple(self.jobs["run_config"]),
        }
        yield Job("figures", "", spec, inputs, self.log("figures"), self.benchmark("figures"))

    def _min_eigen_jobs(self) -> Iterable[Job]:
        for key, run in self.samples.items():
            cfg = run.config
            for m in cfg.base_widths:
                cost = cfg.draw_cost(m)
                spec = MinEigenSpec(key, m, cfg.architecture(m), cfg.sampler.seed, cost.method, cost.routes, cost.batch)
                mem = min_eigen_mem_mb(cfg, m)
                for a, b in cfg.blocks():
                    out = self.path("min_eigen", sample_key=key, width=m, start=a, stop=b)
                    yield self._job("min_eigen", out, spec, self._dataset_input(run), mem_mb=mem)

    def _min_eigen_summary_jobs(self) -> Iterable[Job]:
        runs = tuple((rid, run.sample_key) for rid, run in self.runs.items())
        files = tuple((k, self.result(v)) for k, v in MIN_EIGEN_OUTPUTS.items())
        spec = MinEigenSummarySpec(next(iter(self.runs.values())).config.min_eigen, runs, files, self.settings)
        inputs = {"stores": tuple(self.jobs.get("min_eigen", {})), "configs": tuple(self.jobs["run_config"])}
        yield Job(
            "min_eigen_summary", "", spec, inputs, self.log("min_eigen_summary"), self.benchmark("min_eigen_summary")
        )

    def _archive_job(self) -> Job:
        inputs = {"targets": tuple(self.final_targets())}
        spec = ArchiveSpec(self.results, tuple(self.store_paths()))
        return Job("archive", self.archive_output(), spec, inputs, self.log("archive"))

    # --- views of the table ----------------------------------------------------------------------

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
        return [job.output for job in self.jobs.get("min_eigen", {}).values() if job.spec.key == run.sample_key]

    def run_limit(self, run: Run) -> str:
        """The limit store of a run."""
        return self.path("limit", limit_key=run.limit_key)

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
        return {**out, **self._manifest_output(Study.LIMIT)}

    def min_eigen_summary_outputs(self) -> dict[str, tuple[str, str | None]]:
        """Named outputs of rule min_eigen_summary: key -> (path, report caption name or None)."""
        out = {k: (self.result(v), "min_eigen" if k == "png" else None) for k, v in MIN_EIGEN_OUTPUTS.items()}
        return {**out, **self._manifest_output(Study.MIN_EIGEN)}

    def _manifest_output(self, study: Study) -> dict[str, tuple[str, None]]:
        """The view's manifest, an output of the view stage of this plan's study only: were it an output of
        both rules, Snakemake would evaluate the other study's rule (which has no job here) to choose one."""
        return {"manifest": (self.result(VIEW_MANIFEST), None)} if self.study == study else {}

    def final_targets(self) -> list[str]:
        """What ``rule all`` produces: the view's configs, figures and tables (they need every store)."""
        targets = list(self.jobs["run_config"])
        outputs = self.figures_outputs() if self.study == Study.LIMIT else self.min_eigen_summary_outputs()
        return targets + [path for path, _ in outputs.values()]

    def store_paths(self) -> list[str]:
        """Every shared store the view reads, directly or through another store (for the archive): the
        outputs of every job in the table but the view's own."""
        shared = [stage for stage in self.jobs if stage not in (*VIEW_STAGES, "run_config")]
        return [path for stage in shared for path in self.jobs[stage]]

    def archive_output(self) -> str:
        """The archive of the view: <results_dir>/archives/<view>.zip."""
        return f"{self.results_root}/archives/{self.view}.zip"

    # --- after the run -----------------------------------------------------------------------------

    def summary(self) -> str:
        """What the run found (:func:`.summary.summarize`): verdicts, warnings of every job the view
        depends on, and where the outputs are."""
        from .summary import summarize

        logs = [
            self.jobs[stage][path].log
            for stage in self.jobs
            for path in self.jobs[stage]
            if stage not in (*VIEW_STAGES, "run_config")
        ]
        from ..storage.view_manifest import ViewError

        try:
            return summarize(self.results, logs) + f"\n  shared stores: {self.stores}/"
        except ViewError as err:
            return f"ntk-eoc: results in {self.results}/ cannot be summarized: {err}"


def _recorded_settings(manifest: Path) -> dict[str, Any] | None:
    """The settings a view's manifest records, or None when there is none to compare (no manifest yet)."""
    import json

    try:
        doc = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    settings = doc.get("settings") if isinstance(doc, dict) else None
    return settings if isinstance(settings, dict) else None


def _by(runs: Mapping[str, Run], attribute: str) -> dict[str, Run]:
    """Name -> the first run whose ``attribute`` has that name."""
    out: dict[str, Run] = {}
    for run in runs.values():
        out.setdefault(getattr(run, attribute), run)
    return out


def _analysed(cfg: RunConfig) -> dict[str, Any]:
    """The run's core config as an analysis stage records it: without the study and the sampler's
    ``draws_per_job``, which change no value it computes (its inputs, the sample stores, say how the
    draws were split), and with the schedule that names its networks (runs of one network share it)."""
    config = {k: v for k, v in cfg.core_config().items() if k != "study"}
    config["schedule"] = cfg.network_schedule.config()
    config["sampler"] = {k: v for k, v in config["sampler"].items() if k != "draws_per_job"}
    return config


def _first_order_applies(cfg: RunConfig) -> bool:
    """The first-order model (SCIENCE §6.1) covers dense EOC (a,b)-ReLU networks with one output whose widths
    scale with the base width exactly (quadratic, linear, constant)."""
    return (
        cfg.output_dim == 1
        and not any(cfg.factorized)
        and str(cfg.init) == "eoc"
        and isinstance(cfg.activation, Activation)
        and str(cfg.network_schedule.name) in ("quadratic", "linear", "constant")
    )


def _ab(activation: Any) -> Activation:
    """The (a,b)-ReLU of a limit-study run (RunConfig refuses others for study limit)."""
    if not isinstance(activation, Activation):
        raise TypeError(f"no limit kernel for activation {activation.name!r}")
    return activation
