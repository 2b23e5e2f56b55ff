"""Validation of one composed run config (a plain dict from Hydra) and the ids derived from it.

A run config has the sections below; :meth:`RunConfig.from_dict` checks every key and value and raises
one :class:`ConfigError` naming the first bad key and its value, before any compute.

.. code-block:: yaml

    activation: {name: relu}            # relu | abs | identity | leaky_relu (+ alpha) | custom (+ a, b)
                                        # | sigmoid | tanh | erf (no limit kernel: study min_eigen only)
    schedule: {name: quadratic}         # quadratic | linear | constant | explicit (+ factors: m_k = f_k m)
    dataset: {name: sphere, n_points: 32, input_dim: 16, seed: 0}   # + normalize | min_angle_deg
    sampler: {method: auto, dtype: float32, draws_per_job: 64, seed: 0}
    depth: 3                            # l
    output_dim: 1                       # m_l
    base_widths: [8, 16, 32]            # m
    draws: 128                          # draw ids 0..draws-1
    init: eoc                           # eoc | standard (ntk_eoc.architecture; standard: study min_eigen)
    rank_factors: null                  # per layer null (dense) or f_k > 0: factorized, rank r_k = round(f_k m)
    study: limit                        # limit (K_inf, concentration, spectrum) | min_eigen (lambda_min per block)

Sections named in :data:`ANALYSIS_SECTIONS` are passed through unchecked (their stages validate them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .activations import ACTIVATION_NAMES, Activation
from .architecture import INITS, Architecture
from .datasets import DATASETS, DIGITS_DIM
from .elementwise import ELEMENTWISE_NAMES, Elementwise
from .samplers import DTYPES, METHODS
from .schedules import SCHEDULES, widths

__all__ = [
    "ANALYSIS_SECTIONS",
    "ConfigError",
    "RunConfig",
    "activation_from_config",
    "compose_runs",
    "config_hash",
    "run_id",
    "sweep_axes",
    "validate_workflow_config",
]

# Top-level sections owned by the analysis stages (concentration, spectrum, figures).
ANALYSIS_SECTIONS = ("concentration", "spectrum", "figures", "min_eigen")
_SCHEDULE_NAMES = (*SCHEDULES, "explicit")
_ACTIVATION_NAMES = (*ACTIVATION_NAMES, "custom", *ELEMENTWISE_NAMES)
# limit: sample -> gather -> limit -> concentration/spectrum -> figures; min_eigen: lambda_min per draw.
STUDIES = ("limit", "min_eigen")
_HASH_CHARS = 8
# Python, JAX and XLA compilation of one sampling job, measured at ~400-600 MB RSS; rounded up.
BASE_MEM_MB = 1000


class ConfigError(ValueError):
    """An invalid config value; the message names the key and the value."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(f"invalid config: {key}={value!r}: {reason}")
        self.key, self.value = key, value


def config_hash(tree: Mapping[str, Any]) -> str:
    """Short sha1 of the canonical JSON of a config sub-tree (content id of a shared store)."""
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:_HASH_CHARS]


def _section(cfg: Mapping[str, Any], key: str, allowed: Sequence[str], required: Sequence[str]) -> dict[str, Any]:
    value = cfg.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "must be a mapping")
    for sub in value:
        if sub not in allowed:
            raise ConfigError(f"{key}.{sub}", value[sub], f"unknown key; allowed: {', '.join(allowed)}")
    for sub in required:
        if sub not in value or value[sub] is None:
            raise ConfigError(f"{key}.{sub}", value.get(sub), "is required")
    return dict(value)


def _int(key: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ConfigError(key, value, f"must be an integer >= {minimum}")
    return int(value)


def _real(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(key, value, "must be a number")
    return float(value)


def _choice(key: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(key, value, f"must be one of {', '.join(choices)}")
    return str(value)


@dataclass(frozen=True)
class RunConfig:
    """One validated run: what to sample and where the limit comes from."""

    activation: dict[str, Any]
    schedule: dict[str, Any]
    dataset: dict[str, Any]
    sampler: dict[str, Any]
    depth: int
    output_dim: int
    base_widths: tuple[int, ...]
    draws: int
    init: str = "eoc"
    rank_factors: tuple[float | None, ...] | None = None
    study: str = "limit"
    analysis: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> RunConfig:
        """Validate a composed config; ConfigError naming the first bad key and value."""
        core = (
            "activation", "schedule", "dataset", "sampler", "depth", "output_dim", "base_widths", "draws",
            "init", "rank_factors", "study",
        )  # fmt: skip
        for key in cfg:
            if key not in core and key not in ANALYSIS_SECTIONS:
                raise ConfigError(key, cfg[key], f"unknown key; allowed: {', '.join(core + ANALYSIS_SECTIONS)}")
        depth = _int("depth", cfg.get("depth"))
        output_dim = _int("output_dim", cfg.get("output_dim"))
        activation = _check_activation(cfg)
        schedule = _check_schedule(cfg, depth)
        dataset = _check_dataset(cfg)
        sampler = _check_sampler(cfg)
        bases = cfg.get("base_widths")
        if isinstance(bases, (str, bytes)) or not isinstance(bases, Sequence) or not bases:
            raise ConfigError("base_widths", bases, "must be a non-empty list of positive integers")
        base_widths = tuple(_int(f"base_widths[{k}]", m) for k, m in enumerate(bases))
        if len(set(base_widths)) != len(base_widths):
            raise ConfigError("base_widths", list(bases), "has duplicates")
        draws = _int("draws", cfg.get("draws"))
        init = _choice("init", cfg.get("init", "eoc"), INITS)
        study = _choice("study", cfg.get("study", "limit"), STUDIES)
        rank_factors = _check_rank_factors(cfg.get("rank_factors"), depth)
        if study == "limit" and init != "eoc":
            raise ConfigError(
                "init", init, "has no infinite-width limit (its NTK grows with width); use study=min_eigen"
            )
        if study == "min_eigen" and sampler["dtype"] != "float64":
            raise ConfigError(
                "sampler.dtype", sampler["dtype"], "study=min_eigen needs float64 (lambda_min is rounding-sensitive)"
            )
        if study == "limit" and activation["name"] in ELEMENTWISE_NAMES:
            raise ConfigError(
                "activation.name", activation["name"], "has no limit kernel in ntk-eoc; use study=min_eigen"
            )
        run = cls(
            activation=activation,
            schedule=schedule,
            dataset=dataset,
            sampler=sampler,
            depth=depth,
            output_dim=output_dim,
            base_widths=tuple(sorted(base_widths)),
            draws=draws,
            init=init,
            rank_factors=rank_factors,
            study=study,
            analysis={k: cfg[k] for k in ANALYSIS_SECTIONS if k in cfg},
        )
        for m in run.base_widths:
            try:
                run.layer_widths(m)
            except ValueError as err:
                raise ConfigError("base_widths", m, str(err)) from None
            try:
                run.architecture(m)
            except ValueError as err:
                raise ConfigError("rank_factors", list(rank_factors or ()), f"at base width {m}: {err}") from None
        return run

    def to_activation(self) -> Activation | Elementwise:
        """The activation of this run."""
        return activation_from_config(self.activation)

    def ranks(self, base_width: int) -> list[int | None] | None:
        """Inner ranks r_k = round(f_k m) of the factorized layers (None: dense); None if all dense."""
        if self.rank_factors is None:
            return None
        return [None if f is None else round(f * base_width) for f in self.rank_factors]

    @property
    def factorized(self) -> list[bool]:
        """Per layer: factorized or dense."""
        return [f is not None for f in self.rank_factors or [None] * self.depth]

    def architecture(self, base_width: int) -> Architecture:
        """The :class:`Architecture` at base width m."""
        ranks = self.ranks(base_width)
        widths = tuple(self.layer_widths(base_width))
        return Architecture(widths, self.to_activation(), None if ranks is None else tuple(ranks), self.init)

    def layer_widths(self, base_width: int) -> list[int]:
        """[m_0, ..., m_l] at base width m (explicit schedules: m_k = factors[k-1] m)."""
        name = self.schedule["name"]
        schedule = [int(f) * base_width for f in self.schedule["factors"]] if name == "explicit" else name
        return widths(schedule, base_width, self.depth, self.dataset["input_dim"], self.output_dim)

    def blocks(self) -> list[tuple[int, int]]:
        """Draw blocks [start, stop) of ``draws_per_job`` draws covering 0..draws-1."""
        step = self.sampler["draws_per_job"]
        return [(start, min(start + step, self.draws)) for start in range(0, self.draws, step)]

    @property
    def dataset_id(self) -> str:
        """``<name>-<hash>``: the dataset store is shared by every run with the same dataset config."""
        return f"{self.dataset['name']}-{config_hash(self.dataset)}"

    @property
    def limit_id(self) -> str:
        """Id of the limit store, shared across schedules and base widths."""
        key: dict[str, Any] = {"dataset": self.dataset, "activation": self.activation}
        if any(self.factorized):
            key["factorized"] = self.factorized
        return (
            f"{self.dataset_id}__{self.activation['name']}-{config_hash(key)}"
            f"__depth~{self.depth}__output_dim~{self.output_dim}"
        )

    def sampling_params(self, base_width: int) -> dict[str, Any]:
        """Everything one sampling block depends on (not draws or draws_per_job: see samplers)."""
        sampler = {k: self.sampler[k] for k in ("method", "dtype", "seed")}
        return {
            "activation": self.activation,
            "schedule": self.schedule,
            "depth": self.depth,
            "output_dim": self.output_dim,
            "base_width": base_width,
            "layer_widths": self.layer_widths(base_width),
            "ranks": self.ranks(base_width),
            "init": self.init,
            "sampler": sampler,
        }

    def sampling_mem_mb(self, base_width: int) -> int:
        """Memory request of one sampling job: a compiled batch of draws plus the block and a base."""
        from .samplers import batch_size, choose_method, draw_bytes

        arch, n = self.architecture(base_width), self.dataset["n_points"]
        method = choose_method(arch, n) if self.sampler["method"] == "auto" else self.sampler["method"]
        itemsize = 8 if self.sampler["dtype"] == "float64" else 4
        batch = batch_size(method, arch, n, itemsize)
        block = self.sampler["draws_per_job"] * (n * self.output_dim) ** 2 * itemsize
        return BASE_MEM_MB + int((batch * draw_bytes(method, arch, n, itemsize) + 2 * block) / 2**20)

    def limit_params(self) -> dict[str, Any]:
        """Everything the limit store depends on (``factorized`` only when a layer is)."""
        params = {"activation": self.activation, "depth": self.depth, "output_dim": self.output_dim}
        if any(self.factorized):
            params["factorized"] = self.factorized
        return params

    def core_dict(self) -> dict[str, Any]:
        """The validated config as a plain dict (analysis sections included)."""
        out = dataclasses.asdict(self)
        out["base_widths"] = list(self.base_widths)
        out["rank_factors"] = None if self.rank_factors is None else list(self.rank_factors)
        analysis = out.pop("analysis")
        out.update(analysis)
        return out


def activation_from_config(act: Mapping[str, Any]) -> Activation | Elementwise:
    """The :class:`Activation` (or :class:`Elementwise`) of a validated ``activation`` section."""
    if act["name"] in ELEMENTWISE_NAMES:
        return Elementwise(act["name"])
    if act["name"] == "custom":
        return Activation(act["a"], act["b"], name=f"custom({act['a']:g},{act['b']:g})")
    return Activation.named(act["name"], act.get("alpha"))


def _check_activation(cfg: Mapping[str, Any]) -> dict[str, Any]:
    act = _section(cfg, "activation", ("name", "alpha", "a", "b"), ("name",))
    name = _choice("activation.name", act["name"], _ACTIVATION_NAMES)
    needed = {"leaky_relu": ("alpha",), "custom": ("a", "b")}.get(name, ())
    for key in ("alpha", "a", "b"):
        if key in act and act[key] is not None and key not in needed:
            raise ConfigError(f"activation.{key}", act[key], f"is not used by activation {name!r}")
        if key in needed:
            act[key] = _real(f"activation.{key}", act.get(key))
    act = {k: v for k, v in act.items() if v is not None}
    try:
        activation_from_config(act)
    except ValueError as err:
        key = "activation.alpha" if name == "leaky_relu" else "activation.a"
        raise ConfigError(key, act.get(key.split(".")[1]), str(err)) from None
    return act


def _check_rank_factors(value: object, depth: int) -> tuple[float | None, ...] | None:
    """null, or one entry per layer: null (dense) or a factor f_k > 0 (rank r_k = round(f_k m))."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != depth:
        raise ConfigError("rank_factors", value, f"must be null or list depth = {depth} entries (null or > 0)")
    out: list[float | None] = []
    for k, f in enumerate(value):
        if f is None:
            out.append(None)
            continue
        f = _real(f"rank_factors[{k}]", f)
        if not f > 0.0 or f != f or f == float("inf"):
            raise ConfigError(f"rank_factors[{k}]", f, "must be a finite number > 0 (rank r_k = round(f_k m) >= 1)")
        out.append(f)
    return tuple(out) if any(f is not None for f in out) else None


def _check_schedule(cfg: Mapping[str, Any], depth: int) -> dict[str, Any]:
    sched = _section(cfg, "schedule", ("name", "factors"), ("name",))
    name = _choice("schedule.name", sched["name"], _SCHEDULE_NAMES)
    factors = sched.get("factors")
    if name != "explicit":
        if factors is not None:
            raise ConfigError("schedule.factors", factors, f"is only used by the explicit schedule, not {name!r}")
        return {"name": name}
    if isinstance(factors, (str, bytes)) or not isinstance(factors, Sequence) or len(factors) != depth - 1:
        raise ConfigError("schedule.factors", factors, f"must list depth - 1 = {depth - 1} positive integers")
    return {"name": name, "factors": [_int(f"schedule.factors[{k}]", f) for k, f in enumerate(factors)]}


def _check_dataset(cfg: Mapping[str, Any]) -> dict[str, Any]:
    allowed = ("name", "n_points", "input_dim", "seed", "normalize", "min_angle_deg")
    data = _section(cfg, "dataset", allowed, ("name", "n_points", "input_dim", "seed"))
    name = _choice("dataset.name", data["name"], DATASETS)
    out: dict[str, Any] = {
        "name": name,
        "n_points": _int("dataset.n_points", data["n_points"], minimum=2),
        "input_dim": _int("dataset.input_dim", data["input_dim"]),
        "seed": _int("dataset.seed", data["seed"], minimum=0),
    }
    extra = {"gaussian": "normalize", "close_pairs": "min_angle_deg"}.get(name)
    for key in ("normalize", "min_angle_deg"):
        if data.get(key) is not None and key != extra:
            raise ConfigError(f"dataset.{key}", data[key], f"is not used by dataset {name!r}")
    if name == "gaussian":
        normalize = data.get("normalize", True)
        if not isinstance(normalize, bool):
            raise ConfigError("dataset.normalize", normalize, "must be true or false")
        out["normalize"] = normalize
    if name == "close_pairs":
        angle = _real("dataset.min_angle_deg", data.get("min_angle_deg"))
        if not 0.0 < angle < 60.0:
            raise ConfigError("dataset.min_angle_deg", angle, "must lie in (0, 60) degrees")
        out["min_angle_deg"] = angle
    if name == "digits" and out["input_dim"] != DIGITS_DIM:
        raise ConfigError("dataset.input_dim", out["input_dim"], f"digits images have {DIGITS_DIM} pixels")
    return out


def _check_sampler(cfg: Mapping[str, Any]) -> dict[str, Any]:
    allowed = ("method", "dtype", "draws_per_job", "seed")
    smp = _section(cfg, "sampler", allowed, allowed)
    return {
        "method": _choice("sampler.method", smp["method"], METHODS),
        "dtype": _choice("sampler.dtype", smp["dtype"], DTYPES),
        "draws_per_job": _int("sampler.draws_per_job", smp["draws_per_job"]),
        "seed": _int("sampler.seed", smp["seed"], minimum=0),
    }


# --- Composition: experiment + overrides + sweep -> validated runs (called by the Snakefile) -------


def sweep_axes(entries: Sequence[str]) -> dict[str, list[str]]:
    """Parse Hydra override strings (``key=v1,v2``) into ordered axes key -> [override per value]."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    axes: dict[str, list[str]] = {}
    for entry in entries:
        try:
            overrides = OverridesParser.create().parse_overrides([entry])
        except HydraException as err:
            raise ConfigError("sweep", entry, str(err).splitlines()[0]) from None
        for override in overrides:
            key = override.get_key_element()
            if override.is_sweep_override():
                if not override.is_discrete_sweep():
                    raise ConfigError("sweep", entry, "only discrete sweeps (v1,v2 or range(a,b)) are supported")
                axes[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
            else:
                axes[key] = [f"{key}={override.get_value_element_as_str()}"]
    return axes


def run_id(overrides: Sequence[str]) -> str:
    """``key~value__key~value`` over the swept overrides ("default" when nothing is swept)."""
    return "__".join(o.replace("=", "~", 1) for o in overrides) or "default"


def compose_runs(
    hydra_dir: str,
    config_name: str,
    experiment: str,
    overrides: Sequence[str] = (),
    sweep: Sequence[str] | None = None,
) -> tuple[dict[str, RunConfig], dict[str, dict[str, Any]]]:
    """Compose and validate every run of an experiment.

    Args:
        hydra_dir: absolute path of the Hydra config tree.
        config_name: primary config name (``config``).
        experiment: option of the ``experiment`` group.
        overrides: base Hydra overrides applied to every run.
        sweep: override strings whose axes replace (key by key) the experiment's
            ``hydra.sweeper.params``; None keeps the experiment's sweep.

    Returns:
        (runs, resolved): run id -> :class:`RunConfig`, and run id -> resolved config dict.

    Raises:
        ConfigError: naming the first bad key and value (composition or validation).
    """
    from omegaconf import OmegaConf

    base = [f"experiment={experiment}", *overrides]
    hydra_cfg = _compose(hydra_dir, config_name, base, with_hydra=True)
    swept = hydra_cfg.hydra.sweeper.params
    params = OmegaConf.to_container(swept) if swept is not None else {}
    axes = sweep_axes([f"{k}={v}" for k, v in params.items()])
    axes.update(sweep_axes(sweep or []))
    runs: dict[str, RunConfig] = {}
    resolved: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*axes.values()):
        rid = run_id(combo)
        if "/" in rid or any(c.isspace() for c in rid):
            raise ConfigError("sweep", list(combo), "run ids become paths: no '/' or spaces in swept values")
        cfg = _compose(hydra_dir, config_name, [*base, *combo], with_hydra=False)
        resolved[rid] = OmegaConf.to_container(cfg, resolve=True)
        runs[rid] = RunConfig.from_dict(resolved[rid])
    studies = sorted({run.study for run in runs.values()})
    if len(studies) > 1:
        raise ConfigError("study", studies, "all runs of one experiment must have the same study")
    return runs, resolved


def _compose(hydra_dir: str, config_name: str, overrides: Sequence[str], with_hydra: bool) -> Any:
    """One Hydra compose call (context-managed, so it can run many times in one process)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=hydra_dir, version_base="1.3"):
            return compose(config_name, overrides=list(overrides), return_hydra_config=with_hydra)
    except (HydraException, OmegaConfBaseException) as err:
        message = " ".join(str(err).split("Config search path")[0].split())
        for override in reversed(overrides):
            key, _, value = override.lstrip("+~").partition("=")
            if f"'{key}'" in message or f"'{key}/{value}'" in message or f"'{override}'" in message:
                raise ConfigError(key, value, message) from None
        raise ConfigError("overrides", list(overrides), message) from None


def validate_workflow_config(cfg: Mapping[str, Any], schema_path: str) -> None:
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
