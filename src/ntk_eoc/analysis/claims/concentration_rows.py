"""Claim rows of the concentration study ([TGS25-Conc], SCIENCE §4.1, §6, §7, §8), from per-draw deviations.

Every interval is a paired percentile bootstrap (:mod:`.bootstrap`): the configurations a row compares
share draw ids (common random numbers), and each resample draws the ids jointly for all of them. The
reference cell of a row fixes each swept dim it does not vary: the largest ``depth``, the smallest
``output_dim``, the largest ``base_width``. Rows (kind, role in brackets):

- slope [measured, claim]: exponent of mean ``var`` in m, fitted over m >= m_min, per (activation,
  schedule); predicted: the first-order law's own log-slope of sqrt(V_diag) over the same widths
  (SCIENCE §6, §8.3: -1/2 only asymptotically, e.g. -0.569 for constant relu widths at m = 32..256,
  depth 8); :class:`~.verdicts.Equivalence`.
- depth form of the bound and flatness in depth, on the deep pair (L/2, L) with L >= ``deep_depth``
  (SCIENCE §8.1, §8.4; a local exponent over small depths compares nothing the theorem states):
  per base width m >= 16,

  * bound [bound]: s = log2[mean op_abs(L) / mean op_abs(L/2)] - log2[b(L) / b(L/2)],
    b(l) = Delta^-2 + sqrt(m_l) l, :class:`~.verdicts.AtMost` 0 with margin ``bound_depth_margin``
    (R(l) = op_abs / (b(l) kappa^2 m^-1/2) stays bounded); the claim text lists R(l) at every depth;
  * flat [measured]: exponent log2[mean ``depth_var``(L) / mean ``depth_var``(L/2)] inside 0 +-
    ``depth_margin``.

  Quadratic widths are the claims; the same rules on constant widths are negative controls (role
  ``control``), expected to fail. A sweep without such a pair gets no depth rows, only the note of
  :func:`depth_note`.
- bound in m_l [bound] (quadratic only, >= 2 values): the measured exponent of mean ``var`` in m_l is
  at most the bound's own OLS log-slope of (Delta^-2 + sqrt(m_l) l) (:func:`~.stats.bound_log_slope`);
  :class:`~.verdicts.AtMost`.
- abs vs relu [measured]: paired ratio of mean ``var``, abs over relu, per schedule; predicted < 1;
  AtMost(1) with margin 0 ("direction").
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ...math.activations import Activation
from ...math.fluctuations import beta, v_diag, v_dsum
from ...math.schedules import widths
from ...validate import real
from ..bootstrap import DRAW_DIM, paired_loglog_slope, paired_ratio
from ..grid import one_per_network
from ..names import CLAIM_DEFAULTS
from ..stats import bound_log_slope, theory_bound_factor
from .verdicts import AtMost, Equivalence, Kind, Role, claim_row

__all__ = [
    "ConcentrationClaimSettings",
    "bound_rows",
    "deep_pair",
    "depth_note",
    "depth_rows",
    "law_slope",
    "ratio_rows",
    "slope_rows",
]

log = logging.getLogger(__name__)

RATIO_THRESHOLD = 1.0
# The depth rows compare base widths from here on (SCIENCE §8.1: R(l) hardly depends on m from m = 16).
DEPTH_MIN_WIDTH = 16
# Role of the depth rows per schedule: the bound is proved for quadratic widths; constant widths are
# its negative control (and that of flatness: their deviation grows like l^0.6-0.8, SCIENCE §6).
_DEPTH_ROLES = {"quadratic": Role.CLAIM, "constant": Role.CONTROL}
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
    bound_depth_margin: float
    deep_depth: int
    product_beta_max: float = CLAIM_DEFAULTS["product_beta_max"]
    dsum_beta_max: float = CLAIM_DEFAULTS["dsum_beta_max"]
    v_max: float = CLAIM_DEFAULTS["fluctuation_v_max"]

    def __post_init__(self) -> None:
        for key in ("m_min", "slope_margin", "depth_margin", "bound_margin", "bound_depth_margin", "deep_depth"):
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


def _distinct(da: xr.DataArray, cells: list[dict], fixed: Mapping) -> list[tuple[int, dict, dict]]:
    """(index, cell, its description) of the cells of ``da`` that are distinct networks
    (:func:`.grid.one_per_network`, reading the depth from the cell or a scalar coordinate): a row is posed
    once per network, its description listing every schedule that builds it."""
    depth = {"depth": da["depth"].item()} if "depth" in da.coords and da["depth"].ndim == 0 else {}
    merged = one_per_network([{**depth, **cell, **fixed} for cell in cells])
    return [(k, cells[k], {key: label[key] for key in {**cells[k], **fixed}}) for k, label in merged]


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


def _measured_row(
    claim: str, predicted: float, value: float, ci: tuple[float, float], rule, role: Role = Role.CLAIM
) -> dict:
    """A measured row: the estimate, its interval and the rule's verdict on it."""
    return claim_row(claim, Kind.MEASURED, predicted, value, ci, rule, rule.decide(predicted, *ci), role=role)


def law_slope(
    activation: Activation, schedule: str, depth: int, base_widths: Sequence[int], form: str = "product"
) -> float:
    """OLS log-log slope of sqrt(V_diag) (SCIENCE §6: the product form, or ``form="dsum"`` V_dsum) against m
    over ``base_widths``: the slope the law predicts at these sizes (-1/2 as m -> infinity)."""
    law = v_diag if form == "product" else v_dsum
    m = np.asarray(base_widths, dtype=np.float64)
    v = [law(activation, widths(schedule, int(w), int(depth), 1, 1)[1:-1]) for w in base_widths]
    x, y = np.log(m) - np.log(m).mean(), 0.5 * np.log(v)
    return float((x * (y - y.mean())).sum() / (x * x).sum())


def slope_form(activation: Activation, schedule: str, depth: int, base_widths: Sequence[int], s) -> str | None:
    """The form of the law that predicts the slope over ``base_widths`` (SCIENCE §6, the ranges of the
    fluctuation rows): the product form where beta <= product_beta_max, V_dsum on constant widths where
    beta <= dsum_beta_max, both only where V_diag <= v_max; None where neither is a prediction."""
    hidden = [widths(schedule, int(w), int(depth), 1, 1)[1:-1] for w in base_widths]
    b = max(beta(h) for h in hidden)
    if b <= s.product_beta_max and max(v_diag(activation, h) for h in hidden) <= s.v_max:
        return "product"
    if schedule == "constant" and b <= s.dsum_beta_max and max(v_dsum(activation, h) for h in hidden) <= s.v_max:
        return "dsum"
    return None


def slope_rows(
    dev: xr.Dataset, var: str, s: ConcentrationClaimSettings, seed, activations: Callable[[str], Activation]
) -> list[dict]:
    """Exponent of mean ``var`` in m over m >= m_min against the law's slope over the same widths
    (Equivalence), per cell."""
    if dev.sizes.get("base_width", 0) < 2:
        return []
    da, fixed = _fix(dev[var], ("base_width",))
    da = da.sel(base_width=da.base_width[da.base_width >= s.m_min])
    if da.sizes["base_width"] < 2:
        log.warning("claims: fewer than 2 base widths >= m_min=%g: no slope rows", s.m_min)
        return []
    rule, rows = Equivalence(s.slope_margin), []
    cells = _cells(da, ("base_width",))
    children = _seeds(seed, len(cells))
    for k, cell, label in _distinct(da, cells, fixed):
        one, child = da.sel(cell), children[k]
        name, sched, depth = (_value(one, k, cell, fixed) for k in ("activation", "schedule", "depth"))
        if None in (name, sched, depth):
            log.warning("claims: slope row needs activation, schedule and depth, got %s", _describe(cell, fixed))
            continue
        ms = [int(m) for m in one.base_width.values]
        form = slope_form(activations(str(name)), str(sched), int(depth), ms, s)
        if form is None:
            log.info("claims: no slope row for %s: the law is not a prediction there (beta, V_diag)", label)
            continue
        predicted = law_slope(activations(str(name)), str(sched), int(depth), ms, form)
        fit = paired_loglog_slope(one, "base_width", seed=child, **s.boot)
        claim = (
            f"slope of log mean {var} vs log m, predicted: the law's slope at these widths"
            f"{' (V_dsum)' if form == 'dsum' else ''} "
            f"({_describe(label)}, m={ms[0]}..{ms[-1]})"
        )
        rows.append(_measured_row(claim, predicted, fit.slope, (fit.ci_low, fit.ci_high), rule))
    return rows


def deep_pair(depths: Sequence[int], deep_depth: int) -> tuple[int, int] | None:
    """(L/2, L) for the largest swept depth L if L >= ``deep_depth`` and L/2 is swept too, else None."""
    ls = sorted(int(d) for d in depths)
    if not ls or ls[-1] < deep_depth or ls[-1] % 2 or ls[-1] // 2 not in ls:
        return None
    return ls[-1] // 2, ls[-1]


def depth_note(dev: xr.Dataset, s: ConcentrationClaimSettings) -> str:
    """One line when the depth sweep cannot carry the depth rows (no deep pair), naming where they are."""
    if dev.sizes.get("depth", 0) < 2 or deep_pair(dev.depth.values.tolist(), s.deep_depth) is not None:
        return ""
    return (
        f"Depth rows (the bound's depth form and flatness in depth, with their constant-width controls) need "
        f"depths L/2 and L with L >= {s.deep_depth}; this sweep has l = {dev.depth.values.tolist()}, so they "
        "are left to the `depth` experiment (SCIENCE §8.1, §8.4)."
    )


def depth_rows(
    dev: xr.Dataset,
    var: str,
    depth_var: str,
    s: ConcentrationClaimSettings,
    seed,
    activations: Callable[[str], Activation],
) -> list[dict]:
    """The bound's depth form (on ``var``) and flatness (on ``depth_var``) on the deep pair (L/2, L), per
    (activation, schedule, base width >= 16): claims for quadratic widths, controls for constant ones."""
    pair = deep_pair(dev.depth.values.tolist(), s.deep_depth) if "depth" in dev.dims else None
    if pair is None:
        return []
    if depth_var not in dev:
        log.warning("claims: no %r variable: no depth rows", depth_var)
        return []
    keep = dev.base_width[dev.base_width >= DEPTH_MIN_WIDTH] if "base_width" in dev.dims else None
    sub = dev if keep is None else dev.sel(base_width=keep)
    absolute, fixed = _fix(sub[var], ("depth", "base_width"))
    relative, _ = _fix(sub[depth_var], ("depth", "base_width"))
    bound_rule, flat_rule = AtMost(s.bound_depth_margin), Equivalence(s.depth_margin)
    cells = _cells(absolute, ("depth",))
    rows = []
    half, top = pair
    for cell, child in zip(cells, _seeds(seed, len(cells)), strict=True):
        one = absolute.sel(cell)
        name, sched, out = (_value(one, k, cell, fixed) for k in ("activation", "schedule", "output_dim"))
        if sched not in _DEPTH_ROLES or None in (name, out):
            log.warning("claims: no depth rows for %s", _describe(cell, fixed))
            continue
        role, act, m = _DEPTH_ROLES[sched], activations(str(name)), int(_value(one, "base_width", cell, fixed))
        seeds = child.spawn(2)
        b = {int(d): theory_bound_factor(act, int(d), int(out)) for d in one.depth.values}
        means = one.mean(DRAW_DIM)
        ratios = ", ".join(f"{float(means.sel(depth=d)) / (b[int(d)] * m**-0.5):.3g}" for d in one.depth.values)
        est = paired_ratio(one.sel(depth=top), one.sel(depth=half), seed=seeds[0], **s.boot)
        shift = math.log2(b[top] / b[half])
        value, ci = math.log2(est.value) - shift, (math.log2(est.ci_low) - shift, math.log2(est.ci_high) - shift)
        where = f"{_describe(cell, fixed)}, l={half}->{top}"
        claim = (
            f"bound's depth form: log2 growth of mean {var} minus that of Delta^-2 + sqrt(m_l) l at most 0 ({where}); "
            f"R(l) = {var} / bound at l={one.depth.values.tolist()}: {ratios}"
        )
        verdict = bound_rule.decide(0.0, *ci)
        rows.append(claim_row(claim, Kind.BOUND, 0.0, value, ci, bound_rule, verdict, role=role))
        flat = relative.sel(cell)
        est = paired_ratio(flat.sel(depth=top), flat.sel(depth=half), seed=seeds[1], **s.boot)
        value, ci = math.log2(est.value), (math.log2(est.ci_low), math.log2(est.ci_high))
        claim = f"mean {depth_var} flat in depth: exponent in l over the deep pair ({where})"
        verdict = flat_rule.decide(0.0, *ci)
        rows.append(claim_row(claim, Kind.MEASURED, 0.0, value, ci, flat_rule, verdict, role=role))
    return rows


def bound_rows(
    dev: xr.Dataset,
    var: str,
    along: str,
    s: ConcentrationClaimSettings,
    seed,
    activations: Callable[[str], Activation],
) -> list[dict]:
    """Measured exponent of mean ``var`` in ``along`` (output_dim) at most the bound's own."""
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
    """Paired ratio of mean ``var``, abs over relu, at the reference cell; direction < 1 (AtMost(1), margin 0),
    with its control: the same rule on relu over abs (the reciprocal ratio and interval, which is the
    percentile interval of the reciprocal up to interpolation between resamples), expected to fail."""
    if "activation" not in dev.dims or not {"abs", "relu"} <= set(dev.activation.values.tolist()):
        return []
    da, fixed = _fix(dev[var], ())
    rule, rows = AtMost(0.0), []
    cells = _cells(da, ("activation",))
    children = _seeds(seed, len(cells))
    for k, cell, label in _distinct(da, cells, fixed):
        one, child = da.sel(cell), children[k]
        est = paired_ratio(one.sel(activation="abs"), one.sel(activation="relu"), seed=child, **s.boot)
        note = ""
        depth, out = _value(one, "depth", fixed), _value(one, "output_dim", fixed)
        if depth is not None and out is not None:
            factors = [theory_bound_factor(activations(a), int(depth), int(out)) for a in ("abs", "relu")]
            note = f"; bound factor ratio {factors[0] / factors[1]:.3f}"
        claim = f"mean {var} ratio abs/relu < 1 ({_describe(label)}){note}"
        rows.append(_measured_row(claim, RATIO_THRESHOLD, est.value, (est.ci_low, est.ci_high), rule))
        # the same rule with the activations swapped: a control, expected to fail where the claim holds
        swapped = f"mean {var} ratio relu/abs < 1 ({_describe(label)}): the claim swapped"
        ci = (1.0 / est.ci_high, 1.0 / est.ci_low)
        rows.append(_measured_row(swapped, RATIO_THRESHOLD, 1.0 / est.value, ci, rule, Role.CONTROL))
    return rows
