"""Typed job specs: what each stage's job receives, made and validated once by the plan, passed to the
job as one JSON string (the rule's ``params.spec``, so a changed spec reruns the job) and decoded by
the stage module with :meth:`Spec.from_json`.

One codec serves every spec: dataclass fields are encoded by type (enums as their value, tuples as
lists, and the config objects :class:`Architecture`, :class:`Activation`, :class:`DatasetConfig` and the
analysis settings through their ``config()`` / ``from_config()`` pair), with sorted keys, so equal specs
give equal strings. Decoding rebuilds the objects, whose constructors check their invariants again.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, Self, Union

from ..math.activations import Activation, Elementwise, activation_from_config
from ..math.architecture import Architecture
from ..math.cost import DType, Method
from ..math.datasets import DatasetConfig
from .settings import ClaimSettings, ConcentrationSettings, FigureSettings, MinEigenSettings, SpectrumSettings

__all__ = [
    "ArchiveSpec",
    "ConcentrationSpec",
    "DatasetSpec",
    "FiguresSpec",
    "FirstOrderSpec",
    "FluctuationsSpec",
    "LimitSpec",
    "MinEigenSpec",
    "MinEigenSummarySpec",
    "RunConfigSpec",
    "SampleSpec",
    "Spec",
    "SpectrumSpec",
]

# Types encoded by their own config() and rebuilt by from_config().
_CONFIG_TYPES = (
    Architecture,
    DatasetConfig,
    ConcentrationSettings,
    FigureSettings,
    ClaimSettings,
    SpectrumSettings,
    MinEigenSettings,
)


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (Activation, Elementwise, *_CONFIG_TYPES)):
        return value.config()
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if Activation in args:
            return activation_from_config(value)
        (inner,) = [a for a in args if a is not type(None)]
        return _decode(inner, value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict or hint is Any:
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint in _CONFIG_TYPES:
        return hint.from_config(value)
    if hint in (Activation, Elementwise):
        return activation_from_config(value)
    return value


class Spec:
    """JSON codec of the job specs (module doc)."""

    def to_json(self) -> str:
        """The spec as canonical JSON (sorted keys)."""
        return json.dumps(_encode(self), sort_keys=True)

    def config(self) -> dict[str, Any]:
        """The spec as plain JSON values (the ``config`` attribute of the job's store)."""
        return _encode(self)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild the spec from :meth:`to_json`'s output."""
        data = json.loads(text)
        hints = typing.get_type_hints(cls)
        return cls(**{f.name: _decode(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class RunConfigSpec(Spec):
    """Stage run_config: the resolved Hydra config of one run."""

    resolved: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class DatasetSpec(Spec):
    """Stage dataset: one dataset config (named by its values; opposite points, which an activation with a
    parity cannot separate, are refused when the plan is built)."""

    dataset: DatasetConfig


@dataclasses.dataclass(frozen=True)
class SampleSpec(Spec):
    """Stage sample: one network (its sample key) at a group of base widths, with per width the
    architecture and the route the plan chose (its resolved method, explicit or conditioned, and per map
    whether it is conditioned); ``weight_seed`` keys the weights of every draw. The draw block comes from
    the job's wildcards, so the spec (and the params trigger) does not depend on the number of draws or
    their split."""

    key: str
    base_widths: tuple[int, ...]
    architectures: tuple[Architecture, ...]
    weight_seed: int
    methods: tuple[Method, ...]
    routes: tuple[tuple[bool, ...], ...]
    dtype: DType


@dataclasses.dataclass(frozen=True)
class LimitSpec(Spec):
    """Stage limit: K_inf of one (activation, depth, output dimension, factorized layers); ``key``, the limit
    key its store records (and its path spells)."""

    key: str
    activation: Activation
    depth: int
    output_dim: int
    factorized: tuple[bool, ...] | None


@dataclasses.dataclass(frozen=True)
class FirstOrderSpec(Spec):
    """Stage first_order: the first-order model (SCIENCE §6.1) of one network at base width 1: its
    activation, hidden widths m_k / m, the Monte Carlo neurons per layer, the draws of its Gaussian law and
    their seed; ``key``, the first-order key its store records (and its path spells)."""

    key: str
    activation: Activation
    hidden_widths: tuple[int, ...]
    samples: int
    draws: int
    seed: int


@dataclasses.dataclass(frozen=True)
class SpectrumSpec(Spec):
    """Stage spectrum: K_inf's spectrum for one activation at the configured depths; ``key``, the spectrum key
    its store records (and its path spells)."""

    key: str
    activation: Activation
    depths: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class ConcentrationSpec(Spec):
    """Stage concentration: the run's concentration key, its limit key and validated config; ``layout``, the
    version of the variables the store holds (2: with ``dead_inputs``), so that a store of an earlier layout
    is recomputed, not read."""

    key: str
    limit_key: str
    config: dict[str, Any]
    layout: int = 2


# The interval method of the fluctuation stores (in their spec and their name).
FLUCTUATION_INTERVAL = "bca"


@dataclasses.dataclass(frozen=True)
class FluctuationsSpec(Spec):
    """Stage fluctuations: one run's kernels against the product-form law; its activation (and the label
    figures use for it), schedule, depth, output dimension and the bootstrap settings (resamples, seed,
    confidence: the ``concentration`` section's) and the interval method of its CIs (a change of method
    changes the spec, so stores of another method are recomputed, not read)."""

    key: str
    activation: Activation
    label: str
    schedule: str
    depth: int
    output_dim: int
    n_boot: int
    boot_seed: int
    confidence: float
    config: dict[str, Any]
    interval: str = FLUCTUATION_INTERVAL


@dataclasses.dataclass(frozen=True)
class FiguresSpec(Spec):
    """Stage figures: the analysis settings shared by every run, and each run's id and typed swept values
    ((key, value) pairs in sweep order), in the order of the concentration stores the job reads; the
    files it writes by name: (figure, path without suffix: .png and .pdf are written) and (table, path);
    the runs with a first-order prediction, in the order of the first-order stores it reads; the view's
    settings (experiment, overrides, sweep), recorded in its manifest; the first run's
    validated core config, whose settings figures and claims read where a key is not swept (not a store's:
    runs of one network share stores, named by the schedule of their widths)."""

    concentration: ConcentrationSettings
    figures: FigureSettings
    claims: ClaimSettings
    runs: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    figure_files: tuple[tuple[str, str], ...]
    table_files: tuple[tuple[str, str], ...]
    first_order_runs: tuple[str, ...]
    view: dict[str, Any]
    config: dict[str, Any]  # last: Spec.config, the method, is the dataclass default it shadows


@dataclasses.dataclass(frozen=True)
class MinEigenSpec(Spec):
    """Stage min_eigen: one network (its sample key) at one base width, sampled in float64 with the route the
    plan chose (method, per-map routes) ``batch`` draws at a time (the batch its memory request assumes);
    ``weight_seed`` keys the weights of every draw."""

    key: str
    base_width: int
    architecture: Architecture
    weight_seed: int
    method: Method
    routes: tuple[bool, ...]
    batch: int


@dataclasses.dataclass(frozen=True)
class MinEigenSummarySpec(Spec):
    """Stage min_eigen_summary: the settings shared by every run, each run's id and sample key, and the
    files it writes by name (``table``, ``claims_csv``, ``claims_md``, ``png``, ``pdf``); the view's settings
    (experiment, overrides, sweep), recorded in its manifest."""

    settings: MinEigenSettings
    runs: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, str], ...]
    view: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ArchiveSpec(Spec):
    """Stage archive: the view's folder and every shared store it reads."""

    view_dir: str
    stores: tuple[str, ...]
