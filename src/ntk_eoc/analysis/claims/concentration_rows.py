"""Claim rows of the concentration study ([TGS25-Conc], SCIENCE §4.1, §6, §7), from per-draw deviations.

Every interval is a paired percentile bootstrap (:mod:`.bootstrap`): the configurations a row compares
share draw ids (common random numbers), and each resample draws the ids jointly for all of them. The
reference cell of a row fixes each swept dim it does not vary: the largest ``depth``, the smallest
``output_dim``, the largest ``base_width``. Rows (kind in brackets):

- slope [measured]: exponent of mean ``var`` in m, fitted over m >= m_min (the O(1/m) finite-width bias
  bends the curve at small m), per (activation, schedule); predicted -1/2 (proved for m_k = k^2 m,
  first order in 1/m for every schedule, SCIENCE §6); :class:`~.verdicts.Equivalence`.
- flat / grows in depth [measured] (>= 3 depths): exponent in l of the mean RELATIVE deviation
  ``depth_var`` at the largest m (K_inf's norm grows like l, so the absolute deviation carries a factor l
  that says nothing about concentration). Quadratic: predicted 0, Equivalence ("flat"); constant:
  :class:`~.verdicts.AtLeast` the margin ("grows"). The first-order law of SCIENCE §6 puts the exponent
  of sqrt(V_diag) at ~0.16 (quadratic, l = 2..32) and 0.6-0.8 (constant, m = 64..256).
- bound in l and in m_l [bound] (quadratic only, >= 2 values): the measured exponent of mean ``var`` is
  at most the bound's own, the OLS log-slope of (Delta^-2 + sqrt(m_l) l) over the same points
  (:func:`~.stats.bound_log_slope`); :class:`~.verdicts.AtMost`. The sqrt(m_l) l factor is part of an
  upper bound, not a rate: the row can only show that the data do not exceed it.
- abs vs relu [measured]: paired ratio of mean ``var``, abs over relu, per schedule; predicted < 1;
  AtMost(1) with margin 0 ("direction").
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ...math.activations import Activation
from ...validate import real
from ..bootstrap import DRAW_DIM, paired_loglog_slope, paired_ratio
from ..stats import bound_log_slope, theory_bound_factor
from .verdicts import AtLeast, AtMost, Equivalence, Kind, claim_row

__all__ = ["ConcentrationClaimSettings", "bound_rows", "depth_rows", "ratio_rows", "slope_rows"]

log = logging.getLogger(__name__)

PREDICTED_SLOPE = -0.5
RATIO_THRESHOLD = 1.0
# Reference value of each swept dim a row does not vary.
_REFERENCE: dict[str, Callable] = {"depth": max, "output_dim": min, "base_width": max}


@dataclass(frozen=True)
class ConcentrationClaimSettings:
    """Settings of the concentration rows (defaults documented in :func:`~.claims.claims_table`)."""

    n_boot: int
    seed: int
    confidence: float
    m_min: float
    slope_margin: float
    depth_margin: float
    bound_margin: float

    def __post_init__(self) -> None:
        for key in ("m_min", "slope_margin", "depth_margin", "bound_margin"):
            if real(key, getattr(self, key), where="claims") < 0:
                raise ValueError(f"claims: {key}={getattr(self, key)!r}: must be >= 0")

    @property
    def boot(self) -> dict:
        return {"n_boot": self.n_boot, "confidence": self.confidence}


def _fix(da: xr.DataArray, vary: Sequence[str]) -> tuple[xr.DataArray, dict]:
    """Fix every dim of :data:`_REFERENCE` not in ``vary`` at its reference value; returns (da, fixed)."""
    fixed = {d: pick(da[d].values.tolist()) for d, pick in _REFERENCE.items() if d in da.dims and d not in vary}
    return da.sel(fixed), fixed


def _cells(da: xr.DataArray, vary: Sequence[str]) -> list[dict]:
    """One selection per combination of the dims other than ``vary`` and ``draw``."""
    dims = [d for d in da.dims if d not in (*vary, DRAW_DIM)]
    return [dict(zip(dims, c, strict=True)) for c in itertools.product(*(da[d].values.tolist() for d in dims))]


def _describe(*parts: Mapping) -> str:
    return ", ".join(f"{k}={v}" for part in parts for k, v in part.items())


def _seeds(seed: int | np.random.SeedSequence, count: int) -> list[np.random.SeedSequence]:
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return root.spawn(count)


def _value(da: xr.DataArray, name: str, *given: Mapping):
    """A setting of a cell: from the selections ``given`` (swept dims), else a scalar coordinate, else None."""
    for part in given:
        if name in part:
            return part[name]
    if name in da.coords and da[name].ndim == 0:
        return da[name].item()
    return None


def _measured_row(claim: str, predicted: float, value: float, ci: tuple[float, float], rule) -> dict:
    """A measured claim row: the estimate, its interval and the rule's verdict on it."""
    return claim_row(claim, Kind.MEASURED, predicted, value, ci, rule, rule.decide(predicted, *ci))


def slope_rows(dev: xr.Dataset, var: str, s: ConcentrationClaimSettings, seed) -> list[dict]:
    """Exponent of mean ``var`` in m over m >= m_min, predicted -1/2 (Equivalence), per cell."""
    if dev.sizes.get("base_width", 0) < 2:
        return []
    da, fixed = _fix(dev[var], ("base_width",))
    da = da.sel(base_width=da.base_width[da.base_width >= s.m_min])
    if da.sizes["base_width"] < 2:
        log.warning("claims: fewer than 2 base widths >= m_min=%g: no slope rows", s.m_min)
        return []
    rule, rows = Equivalence(s.slope_margin), []
    cells = _cells(da, ("base_width",))
    for cell, child in zip(cells, _seeds(seed, len(cells)), strict=True):
        fit = paired_loglog_slope(da.sel(cell), "base_width", seed=child, **s.boot)
        widths = f"m={int(da.base_width.min())}..{int(da.base_width.max())}"
        claim = f"slope of log mean {var} vs log m ({_describe(cell, fixed)}, {widths})"
        rows.append(_measured_row(claim, PREDICTED_SLOPE, fit.slope, (fit.ci_low, fit.ci_high), rule))
    return rows


def depth_rows(dev: xr.Dataset, var: str, s: ConcentrationClaimSettings, seed) -> list[dict]:
    """Quadratic flat in depth (Equivalence about 0), constant grows (AtLeast the margin), >= 3 depths."""
    if dev.sizes.get("depth", 0) < 3:
        return []
    if var not in dev:
        log.warning("claims: no %r variable: no depth rows", var)
        return []
    da, fixed = _fix(dev[var], ("depth",))
    rules = {"quadratic": ("flat", Equivalence(s.depth_margin)), "constant": ("grows", AtLeast(s.depth_margin))}
    cells = _cells(da, ("depth",))
    rows = []
    for cell, child in zip(cells, _seeds(seed, len(cells)), strict=True):
        name = _value(da, "schedule", cell)
        if name not in rules:
            log.warning("claims: schedule %r has no depth claim (%s)", name, _describe(cell))
            continue
        word, rule = rules[name]
        fit = paired_loglog_slope(da.sel(cell), "depth", seed=child, **s.boot)
        depths = f"l={int(da.depth.min())}..{int(da.depth.max())}"
        claim = f"{name} schedule: mean {var} {word} in depth, exponent in l ({_describe(cell, fixed)}, {depths})"
        verdict = rule.decide(0.0, fit.ci_low, fit.ci_high)
        rows.append(claim_row(claim, Kind.MEASURED, 0.0, fit.slope, (fit.ci_low, fit.ci_high), rule, verdict))
    return rows


def bound_rows(
    dev: xr.Dataset,
    var: str,
    along: str,
    s: ConcentrationClaimSettings,
    seed,
    activations: Callable[[str], Activation],
) -> list[dict]:
    """Measured exponent of mean ``var`` in ``along`` (depth or output_dim) at most the bound's own."""
    if dev.sizes.get(along, 0) < 2:
        return []
    da, fixed = _fix(dev[var], (along,))
    rule, rows = AtMost(s.bound_margin), []
    cells = _cells(da, (along,))
    for cell, child in zip(cells, _seeds(seed, len(cells)), strict=True):
        one = da.sel(cell)
        names = [k for k in ("schedule", "activation", "depth", "output_dim") if k != along]
        settings = {k: _value(one, k, cell, fixed) for k in names}
        if settings["schedule"] != "quadratic":
            continue  # the bound is proved for m_k = k^2 m only
        if None in settings.values():
            log.warning("claims: bound row needs %s as dims or scalar coords, got %s", list(settings), settings)
            continue
        depths = one.depth.values.tolist() if along == "depth" else [settings["depth"]]
        outs = one.output_dim.values.tolist() if along == "output_dim" else [settings["output_dim"]]
        bound = bound_log_slope(activations(str(settings["activation"])), depths, outs)
        fit = paired_loglog_slope(one, along, seed=child, **s.boot)
        symbol = "l" if along == "depth" else "m_l"
        span = f"{symbol}={int(one[along].min())}..{int(one[along].max())}"
        claim = (
            f"exponent of mean {var} in {symbol} at most the bound's (Delta^-2 + sqrt(m_l) l) "
            f"({_describe(cell, fixed)}, {span})"
        )
        verdict = rule.decide(bound, fit.ci_low, fit.ci_high)
        rows.append(claim_row(claim, Kind.BOUND, bound, fit.slope, (fit.ci_low, fit.ci_high), rule, verdict))
    return rows


def ratio_rows(
    dev: xr.Dataset, var: str, s: ConcentrationClaimSettings, seed, activations: Callable[[str], Activation]
) -> list[dict]:
    """Paired ratio of mean ``var``, abs over relu, at the reference cell; direction < 1 (AtMost(1), margin 0)."""
    if "activation" not in dev.dims or not {"abs", "relu"} <= set(dev.activation.values.tolist()):
        return []
    da, fixed = _fix(dev[var], ())
    rule, rows = AtMost(0.0), []
    cells = _cells(da, ("activation",))
    for cell, child in zip(cells, _seeds(seed, len(cells)), strict=True):
        one = da.sel(cell)
        est = paired_ratio(one.sel(activation="abs"), one.sel(activation="relu"), seed=child, **s.boot)
        note = ""
        depth, out = _value(one, "depth", fixed), _value(one, "output_dim", fixed)
        if depth is not None and out is not None:
            factors = [theory_bound_factor(activations(a), int(depth), int(out)) for a in ("abs", "relu")]
            note = f"; bound factor ratio {factors[0] / factors[1]:.3f}"
        claim = f"mean {var} ratio abs/relu < 1 ({_describe(cell, fixed)}){note}"
        rows.append(_measured_row(claim, RATIO_THRESHOLD, est.value, (est.ci_low, est.ci_high), rule))
    return rows
