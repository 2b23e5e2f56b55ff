"""One run of an experiment, typed and validated: the composed Hydra config (a plain dict) becomes a
:class:`RunConfig` whose fields are the objects the math uses (an :class:`Activation`, a
:class:`WidthSchedule`, a :class:`DatasetConfig`, ...). Validation happens here, once, when the workflow
is planned; a bad key or value raises one :class:`ConfigError` naming it.

.. code-block:: yaml

    activation: {name: relu}            # relu | abs | identity | leaky_relu (+ alpha) | custom (+ a, b)
                                        # | sigmoid | tanh | erf (no limit kernel: study min_eigen only)
    schedule: {name: quadratic}         # quadratic | linear | constant | explicit (+ factors: m_k = f_k m)
    dataset: {name: sphere, n_points: 32, input_dim: 16, seed: 0}   # + normalize | min_angle_deg
    sampler: {method: auto, dtype: float32, draws_per_job: 64, seed: 0, max_gib: 8}
    depth: 3                            # l
    output_dim: 1                       # m_l
    base_widths: [8, 16, 32]            # m
    draws: 128                          # draw ids 0..draws-1
    init: eoc                           # eoc | standard (ntk_eoc.math.architecture; standard: study min_eigen)
    rank_factors: null                  # per layer null (dense) or f_k > 0: factorized, rank r_k = round(f_k m)
    study: limit                        # limit (K_inf, concentration, spectrum) | min_eigen (lambda_min per block)
    concentration: {...}                # analysis sections: ntk_eoc.pipeline.settings
    figures: {...}
    claims: {...}
    spectrum: {...}
    min_eigen: {...}
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..analysis.names import DEVIATION_VARS
from ..math.activations import Activation, Elementwise, activation_from_config
from ..math.architecture import Architecture, Init
from ..math.cost import DEFAULT_MAX_BYTES, DrawCost, DType, Method, draw_cost
from ..math.datasets import DatasetConfig
from ..math.schedules import WidthSchedule
from ..validate import MAX_SEED, ConfigError, InvalidValue, choice, integer, real
from .settings import ClaimSettings, ConcentrationSettings, FigureSettings, MinEigenSettings, SpectrumSettings

__all__ = ["CORE_KEYS", "ConfigError", "RunConfig", "SamplerConfig", "Study"]

T = TypeVar("T")


class Study(enum.StrEnum):
    """What an experiment computes: the limit study (K_inf, concentration, spectrum) or lambda_min per block."""

    LIMIT = "limit"
    MIN_EIGEN = "min_eigen"


ANALYSIS_KEYS = ("concentration", "figures", "claims", "spectrum", "min_eigen")
CORE_KEYS = (
    "activation", "schedule", "dataset", "sampler", "depth", "output_dim", "base_widths", "draws",
    "init", "rank_factors", "study",
)  # fmt: skip


def checked(section: str, make: Callable[[], T]) -> T:
    """``make()``, with an InvalidValue of the section's validators turned into a ConfigError whose key is
    ``<section>.<key>``."""
    try:
        return make()
    except InvalidValue as err:
        key = ".".join(part for part in (section, err.key) if part)
        raise ConfigError(key, err.value, err.reason) from None


# Largest memory one draw may need unless sampler.max_gib says otherwise (the library's own cap).
DEFAULT_MAX_GIB = DEFAULT_MAX_BYTES / 2**30


@dataclass(frozen=True)
class SamplerConfig:
    """The ``sampler`` section: route, dtype, draws per sampling job, base seed in [0, 2^32), and the
    largest memory one draw may need (GiB, cost model ``draw_bytes``; checked when the workflow is planned)."""

    method: Method
    dtype: DType
    draws_per_job: int
    seed: int
    max_gib: float = DEFAULT_MAX_GIB

    @property
    def max_bytes(self) -> int:
        """``max_gib`` in bytes, the unit of the cost model (:func:`~ntk_eoc.math.cost.draw_bytes`)."""
        return int(self.max_gib * 2**30)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SamplerConfig:
        allowed = ("method", "dtype", "draws_per_job", "seed", "max_gib")
        for key in section:
            if key not in allowed:
                raise InvalidValue(key, section[key], f"unknown key; allowed: {', '.join(allowed)}")
        return cls(
            choice("method", section.get("method"), Method),
            choice("dtype", section.get("dtype"), DType),
            integer("draws_per_job", section.get("draws_per_job")),
            integer("seed", section.get("seed"), 0, MAX_SEED),  # sampler.seed: the weights (JAX key of every draw)
            real("max_gib", section.get("max_gib", DEFAULT_MAX_GIB), positive=True),
        )


@dataclass(frozen=True)
class RunConfig:
    """One validated run: the network, its widths, the data, the sampler and the analysis settings."""

    activation: Activation | Elementwise
    schedule: WidthSchedule
    dataset: DatasetConfig
    sampler: SamplerConfig
    depth: int
    output_dim: int
    base_widths: tuple[int, ...]
    draws: int
    init: Init = Init.EOC
    rank_factors: tuple[float | None, ...] | None = None
    study: Study = Study.LIMIT
    concentration: ConcentrationSettings = field(default_factory=ConcentrationSettings)
    figures: FigureSettings = field(default_factory=FigureSettings)
    claims: ClaimSettings = field(default_factory=ClaimSettings)
    spectrum: SpectrumSettings = field(default_factory=SpectrumSettings)
    min_eigen: MinEigenSettings = field(default_factory=MinEigenSettings)

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> RunConfig:
        """Validate a composed config; ConfigError naming the first bad key and value."""
        for key in cfg:
            if key not in CORE_KEYS and key not in ANALYSIS_KEYS:
                allowed = ", ".join(CORE_KEYS + ANALYSIS_KEYS)
                raise ConfigError(key, cfg[key], f"unknown key; allowed: {allowed}")
        depth = checked("", lambda: integer("depth", cfg.get("depth")))
        output_dim = checked("", lambda: integer("output_dim", cfg.get("output_dim")))
        activation = checked("activation", lambda: activation_from_config(_mapping("activation", cfg)))
        schedule = checked("schedule", lambda: WidthSchedule.from_config(_mapping("schedule", cfg), depth))
        dataset = checked("dataset", lambda: DatasetConfig.from_config(_mapping("dataset", cfg)))
        sampler = checked("sampler", lambda: SamplerConfig.from_config(_mapping("sampler", cfg)))
        bases = cfg.get("base_widths")
        if isinstance(bases, (str, bytes)) or not isinstance(bases, Sequence) or not bases:
            raise ConfigError("base_widths", bases, "must be a non-empty list of positive integers")
        base_widths = checked("", lambda: tuple(integer(f"base_widths[{k}]", m) for k, m in enumerate(bases)))
        if len(set(base_widths)) != len(base_widths):
            raise ConfigError("base_widths", list(bases), "has duplicates")
        run = cls(
            activation=activation,
            schedule=schedule,
            dataset=dataset,
            sampler=sampler,
            depth=depth,
            output_dim=output_dim,
            base_widths=tuple(sorted(base_widths)),
            draws=checked("", lambda: integer("draws", cfg.get("draws"))),
            init=checked("", lambda: choice("init", cfg.get("init", "eoc"), Init)),
            rank_factors=_rank_factors(cfg.get("rank_factors"), depth),
            study=checked("", lambda: choice("study", cfg.get("study", "limit"), Study)),
            concentration=checked("concentration", lambda: ConcentrationSettings.from_config(cfg.get("concentration"))),
            figures=checked("figures", lambda: FigureSettings.from_config(cfg.get("figures"))),
            claims=checked("claims", lambda: ClaimSettings.from_config(cfg.get("claims"))),
            spectrum=checked("spectrum", lambda: SpectrumSettings.from_config(cfg.get("spectrum"))),
            min_eigen=checked("min_eigen", lambda: MinEigenSettings.from_config(cfg.get("min_eigen"))),
        )
        run._check_study()
        run._check_sizes()
        for m in run.base_widths:
            try:
                run.layer_widths(m)
            except ValueError as err:
                raise ConfigError("base_widths", m, str(err)) from None
            try:
                arch = run.architecture(m)
            except ValueError as err:
                raise ConfigError("rank_factors", list(run.rank_factors or ()), f"at base width {m}: {err}") from None
            run._check_memory(arch, m)
        return run

    def _check_sizes(self) -> None:
        """Refuse, before anything is allocated (a width list, the draw blocks), sizes whose smallest arrays
        exceed ``sampler.max_gib``: a draw holds at least n m_k floats per layer (>= 4 n m l bytes); the
        analysis of one base width loads its draws' kernels in float64 (8 draws (n m_l)^2 bytes), and the
        bootstrap of the figures stage resamples every deviation (8 x 6 deviations x n_boot x draws bytes)."""
        cap, n = self.sampler.max_bytes, self.dataset.n_points
        gib = f"over sampler.max_gib={self.sampler.max_gib:g}"
        if 4 * n * min(self.base_widths) * self.depth > cap:
            raise ConfigError("depth", self.depth, f"needs >= {4 * n * min(self.base_widths) * self.depth / 2**30:.3g} "
                              f"GiB per draw (n={n}, m={min(self.base_widths)}), {gib}")  # fmt: skip
        kernels = 8 * self.draws * (n * self.output_dim) ** 2
        if kernels > cap:
            raise ConfigError("draws", self.draws, f"one base width's kernels need {kernels / 2**30:.3g} GiB, {gib}")
        boot = 8 * len(DEVIATION_VARS) * self.concentration.n_boot * self.draws
        if self.study == Study.LIMIT and boot > cap:
            reason = f"with draws={self.draws} the bootstrap needs {boot / 2**30:.3g} GiB, {gib}"
            raise ConfigError("concentration.n_boot", self.concentration.n_boot, reason)

    def _check_memory(self, arch: Architecture, base_width: int) -> None:
        """Refuse, before any job, a base width whose single draw needs more than the sampler allows."""
        cost = self.draw_cost(base_width)
        if cost.bytes > self.sampler.max_bytes:
            reason = (
                f"one {cost.method} draw at widths {list(arch.widths)} with n={self.dataset.n_points} needs "
                f"{cost.bytes / 2**30:.1f} GiB, over sampler.max_gib={self.sampler.max_gib:g} (raise it where the "
                "machine has the memory; method=conditioned needs less for wide layers)"
            )
            raise ConfigError("base_widths", base_width, reason)

    def _check_study(self) -> None:
        if self.study == Study.LIMIT and self.init != Init.EOC:
            raise ConfigError(
                "init", str(self.init), "has no infinite-width limit (its NTK grows with width); use study=min_eigen"
            )
        if self.study == Study.MIN_EIGEN and self.sampler.dtype != DType.FLOAT64:
            reason = "study=min_eigen needs float64 (lambda_min is rounding-sensitive)"
            raise ConfigError("sampler.dtype", str(self.sampler.dtype), reason)
        if self.study == Study.LIMIT and not isinstance(self.activation, Activation):
            raise ConfigError(
                "activation.name", self.activation.name, "has no limit kernel in ntk-eoc; use study=min_eigen"
            )

    def ranks(self, base_width: int) -> tuple[int | None, ...] | None:
        """Inner ranks r_k = round(f_k m) of the factorized layers (None: dense); None if all dense."""
        if self.rank_factors is None:
            return None
        return tuple(None if f is None else round(f * base_width) for f in self.rank_factors)

    @property
    def factorized(self) -> tuple[bool, ...]:
        """Per layer: factorized or dense."""
        return tuple(f is not None for f in self.rank_factors or [None] * self.depth)

    @property
    def network_schedule(self) -> WidthSchedule:
        """The schedule that names this run's networks (:meth:`WidthSchedule.canonical`): every schedule is
        ``constant`` at depth 2, so runs whose networks coincide share their stores."""
        return self.schedule.canonical(self.depth)

    def layer_widths(self, base_width: int) -> list[int]:
        """[m_0, ..., m_l] at base width m."""
        return self.schedule.widths(base_width, self.depth, self.dataset.input_dim, self.output_dim)

    def architecture(self, base_width: int) -> Architecture:
        """The :class:`Architecture` at base width m (built once per base width and run)."""
        return self._once("architecture", base_width, lambda: Architecture(
            tuple(self.layer_widths(base_width)), self.activation, self.ranks(base_width), self.init
        ))  # fmt: skip

    def draw_cost(self, base_width: int) -> DrawCost:
        """The cost model's :class:`~ntk_eoc.math.cost.DrawCost` of one draw at base width m, made once per run:
        the route (``sampler.method`` resolved), bytes, batch and flops of the stage that samples this run
        (per-layer float64 kernels for study=min_eigen, whole kernels in ``sampler.dtype`` otherwise)."""
        per_layer = self.study == Study.MIN_EIGEN
        n, itemsize = self.dataset.n_points, self.sampler.dtype.itemsize
        return self._once("draw_cost", base_width, lambda: draw_cost(
            self.sampler.method, self.architecture(base_width), n, itemsize, per_layer
        ))  # fmt: skip

    def _once(self, what: str, base_width: int, make: Callable[[], T]) -> T:
        """``make()`` the first time (what, base_width) is asked of this run, the same object afterwards (the
        run is frozen, so the memo lives beside its fields and is not one of them)."""
        memo = self.__dict__.setdefault("_memo", {})
        if (what, base_width) not in memo:
            memo[what, base_width] = make()
        return memo[what, base_width]

    def blocks(self) -> list[tuple[int, int]]:
        """Draw blocks [start, stop) of ``draws_per_job`` draws covering 0..draws-1."""
        step = self.sampler.draws_per_job
        return [(start, min(start + step, self.draws)) for start in range(0, self.draws, step)]

    def core_config(self) -> dict[str, Any]:
        """The validated core of the run (no analysis sections) as plain JSON values."""
        return {
            "activation": self.activation.config(),
            "schedule": self.schedule.config(),
            "dataset": self.dataset.config(),
            "sampler": {
                "method": str(self.sampler.method), "dtype": str(self.sampler.dtype),
                "draws_per_job": self.sampler.draws_per_job, "seed": self.sampler.seed,
            },
            "depth": self.depth,
            "output_dim": self.output_dim,
            "base_widths": list(self.base_widths),
            "draws": self.draws,
            "init": str(self.init),
            "rank_factors": None if self.rank_factors is None else list(self.rank_factors),
            "study": str(self.study),
        }  # fmt: skip


def _mapping(key: str, cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    value = cfg.get(key)
    if not isinstance(value, Mapping):
        raise InvalidValue("", value, "must be a mapping")
    return value


def _rank_factors(value: object, depth: int) -> tuple[float | None, ...] | None:
    """null, or one entry per layer: null (dense) or a factor f_k > 0 (rank r_k = round(f_k m))."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != depth:
        raise ConfigError("rank_factors", value, f"must be null or list depth = {depth} entries (null or > 0)")
    out = tuple(
        None if f is None else checked("", lambda k=k, f=f: real(f"rank_factors[{k}]", f, positive=True))
        for k, f in enumerate(value)
    )
    return out if any(f is not None for f in out) else None
