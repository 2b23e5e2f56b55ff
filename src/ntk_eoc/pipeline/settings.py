"""Settings of the analysis stages: the config sections ``concentration``, ``figures``, ``spectrum`` and
``min_eigen``, typed, with defaults, validated once when the workflow is planned.

.. code-block:: yaml

    concentration: {n_boot: 2000, seed: 0, confidence: 0.95, quantiles: [0.1, 0.25, 0.5, 0.75, 0.9],
                    claims_norm: op_abs}
    figures: {deviation: op_rel, statistic: mean, dpi: 150}
    claims: {m_min: 32, slope_margin: 0.1, depth_margin: 0.25, bound_margin: 0.05, bound_depth_margin: 0.15,
             deep_depth: 32, limit_margin: 0.05,
             inv_cos_margin: 0.05, limit_min_depth: 100, fluctuation_margin: 0.1,
             product_beta_max: 0.25, dsum_beta_max: 0.5, fluctuation_v_max: 1.5}
    spectrum: {depths: [1, 2, 3, 5, 10, ..., 10000]}
    min_eigen: {confidence: 0.95, dpi: 150}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..analysis.names import CLAIM_DEFAULTS, DEFAULT_N_BOOT, DEFAULT_QUANTILES, DEVIATION_VARS, PNG_DPI, STATISTICS
from ..validate import MAX_SEED, InvalidValue, integer, integer_list, real

__all__ = [
    "DEFAULT_DEPTHS",
    "ClaimSettings",
    "ConcentrationSettings",
    "FigureSettings",
    "MinEigenSettings",
    "SpectrumSettings",
]

# 1 to 10^4 on a roughly logarithmic grid: the approach to the limits closes like log(l) / l.
# The first-order prediction (SCIENCE §6.1): Monte Carlo neurons per layer (a variance to ~1%) and draws of
# its Gaussian law (the 1 - 1/m quantile is read where draws >= 10 m); both capped (cost O(samples l n^2)).
FIRST_ORDER_SAMPLES = 2**14
FIRST_ORDER_DRAWS = 4096
MAX_FIRST_ORDER = 2**22
DEFAULT_DEPTHS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
# Bootstrap seeds seed numpy's SeedSequence: any non-negative integer; bounded to stay 64-bit.
DPI_RANGE = (10, 1200)


def _known(section: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(section, Mapping):
        raise InvalidValue("", section, "must be a mapping")
    for key in section:
        if key not in allowed:
            raise InvalidValue(key, section[key], f"unknown key; allowed: {', '.join(allowed)}")
    return dict(section)


def _one_of(key: str, value: object, options: tuple[str, ...]) -> str:
    if value not in options:
        raise InvalidValue(key, value, f"must be one of {', '.join(options)}")
    return str(value)


def _dpi(value: object) -> int:
    return integer("dpi", value, *DPI_RANGE)


class _Section:
    """Common codec of the settings dataclasses."""

    def config(self) -> dict[str, Any]:
        """The section as plain JSON values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ConcentrationSettings(_Section):
    """Bootstrap and claims settings of the concentration statistics."""

    n_boot: int = DEFAULT_N_BOOT
    seed: int = 0
    confidence: float = 0.95
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    claims_norm: str = "op_abs"
    first_order_samples: int = FIRST_ORDER_SAMPLES
    first_order_draws: int = FIRST_ORDER_DRAWS

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> ConcentrationSettings:
        """Validate the ``concentration`` section (missing keys take the defaults)."""
        names = ("n_boot", "seed", "confidence", "quantiles", "claims_norm", "first_order_samples", "first_order_draws")
        given = _known(section or {}, names)
        out = cls(**given)
        quantiles = out.quantiles
        if isinstance(quantiles, (str, bytes)) or not isinstance(quantiles, (list, tuple)) or not quantiles:
            raise InvalidValue("quantiles", quantiles, "must be a non-empty list of levels in [0, 1]")
        levels = tuple(real(f"quantiles[{k}]", q) for k, q in enumerate(quantiles))
        if any(not 0.0 <= q <= 1.0 for q in levels):
            raise InvalidValue("quantiles", list(quantiles), "levels must lie in [0, 1]")
        return cls(
            integer("n_boot", out.n_boot, 2),
            integer("seed", out.seed, 0, MAX_SEED),  # concentration.seed: the bootstrap resampling
            real("confidence", out.confidence, low=0.0, high=1.0),
            levels,
            _one_of("claims_norm", out.claims_norm, DEVIATION_VARS),
            integer("first_order_samples", out.first_order_samples, 64, MAX_FIRST_ORDER),
            integer("first_order_draws", out.first_order_draws, 64, MAX_FIRST_ORDER),
        )


@dataclass(frozen=True)
class FigureSettings(_Section):
    """What the figures draw: the deviation variable, the statistic over draws, the PNG resolution."""

    deviation: str = "op_rel"
    statistic: str = "mean"
    dpi: int = PNG_DPI

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> FigureSettings:
        """Validate the ``figures`` section."""
        out = cls(**_known(section or {}, ("deviation", "statistic", "dpi")))
        return cls(
            _one_of("deviation", out.deviation, DEVIATION_VARS), _one_of("statistic", out.statistic, STATISTICS),
            _dpi(out.dpi),
        )  # fmt: skip


# The deepest K_inf the spectrum stage computes (an O(l n^2) recursion, one step per layer).
MAX_SPECTRUM_DEPTH = 10**6


@dataclass(frozen=True)
class SpectrumSettings(_Section):
    """Depths at which the spectrum of K_inf is analysed (sorted, distinct)."""

    depths: tuple[int, ...] = DEFAULT_DEPTHS

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> SpectrumSettings:
        """Validate the ``spectrum`` section."""
        given = _known(section or {}, ("depths",))
        depths = integer_list("depths", given.get("depths", list(DEFAULT_DEPTHS)))
        if max(depths) > MAX_SPECTRUM_DEPTH:
            raise InvalidValue(
                "depths", max(depths), f"exceeds {MAX_SPECTRUM_DEPTH}: the limit recursion costs O(l n^2) steps "
                "(l = 10^4 takes about a second at n = 32); the deep-limit rows need l <= 10^4",
            )  # fmt: skip
        return cls(tuple(sorted(set(depths))))


@dataclass(frozen=True)
class MinEigenSettings(_Section):
    """Confidence of the t-intervals of the min_eigen table and the PNG resolution of its figure."""

    confidence: float = 0.95
    dpi: int = PNG_DPI

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> MinEigenSettings:
        """Validate the ``min_eigen`` section."""
        out = cls(**_known(section or {}, ("confidence", "dpi")))
        confidence = real("confidence", out.confidence)
        if not 0.5 <= confidence < 1.0:
            raise InvalidValue("confidence", out.confidence, "must be a number in [0.5, 1)")
        return cls(confidence, _dpi(out.dpi))


@dataclass(frozen=True)
class ClaimSettings(_Section):
    """The rules of the claims table: fit range and margins (defaults and reasons:
    :data:`ntk_eoc.analysis.names.CLAIM_DEFAULTS`)."""

    m_min: int = CLAIM_DEFAULTS["m_min"]
    slope_margin: float = CLAIM_DEFAULTS["slope_margin"]
    depth_margin: float = CLAIM_DEFAULTS["depth_margin"]
    bound_margin: float = CLAIM_DEFAULTS["bound_margin"]
    bound_depth_margin: float = CLAIM_DEFAULTS["bound_depth_margin"]
    deep_depth: int = CLAIM_DEFAULTS["deep_depth"]
    limit_margin: float = CLAIM_DEFAULTS["limit_margin"]
    inv_cos_margin: float = CLAIM_DEFAULTS["inv_cos_margin"]
    limit_min_depth: int = CLAIM_DEFAULTS["limit_min_depth"]
    fluctuation_margin: float = CLAIM_DEFAULTS["fluctuation_margin"]
    product_beta_max: float = CLAIM_DEFAULTS["product_beta_max"]
    dsum_beta_max: float = CLAIM_DEFAULTS["dsum_beta_max"]
    fluctuation_v_max: float = CLAIM_DEFAULTS["fluctuation_v_max"]
    first_order_beta_max: float = CLAIM_DEFAULTS["first_order_beta_max"]
    first_order_margin: float = CLAIM_DEFAULTS["first_order_margin"]

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> ClaimSettings:
        """Validate the ``claims`` section: margins and ranges > 0, m_min >= 1, limit_min_depth >= 3."""
        out = cls(**_known(section or {}, tuple(CLAIM_DEFAULTS)))
        margins = {k: real(k, getattr(out, k), positive=True) for k in CLAIM_DEFAULTS if k.endswith(("margin", "_max"))}
        return cls(
            m_min=integer("m_min", out.m_min),
            limit_min_depth=integer("limit_min_depth", out.limit_min_depth, 3),
            deep_depth=integer("deep_depth", out.deep_depth, 4),
            **margins,
        )
