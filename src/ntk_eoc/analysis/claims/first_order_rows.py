"""Claim rows of the first-order prediction (SCIENCE §6.1): measured mean op_rel over its prediction.

Per network with a prediction and a base width where beta = sum_k 1/m_k <= ``beta_max`` (the largest such
width): r = measured mean / predicted mean of the relative deviation, with the measured mean's percentile
bootstrap CI (the summary's) divided by the prediction; Equivalence around 1 with ``margin`` (holds if the
CI lies inside 1 +- margin). Control: the same rule with the prediction of the constant-width network of
the same depth and base width for a quadratic-width run (depth >= 3, both in the sweep): another
network's law, expected to fail (at depth 4 it predicts 1.6x the deviation).
"""

from __future__ import annotations

import itertools

import numpy as np
import xarray as xr

from ...math.fluctuations import beta
from ...math.schedules import widths
from ..first_order_curve import predicted_name
from .concentration_rows import _value
from .verdicts import Equivalence, Kind, Role, claim_row

__all__ = ["first_order_rows", "schedule_beta"]

# The schedules whose widths scale with the base width, as the first-order stores assume.
SCALING_SCHEDULES = ("quadratic", "linear", "constant")


def schedule_beta(schedule: str, depth: int, base_width: int) -> float:
    """beta = sum_{k=1}^{l-1} 1/m_k of the schedule's hidden widths at base width m."""
    return beta(widths(schedule, int(base_width), int(depth), input_dim=1)[1:-1])


def first_order_rows(summary: xr.Dataset, var: str, *, beta_max: float, margin: float) -> list[dict]:
    """Rows (module doc) for ``var`` (a relative deviation such as op_rel) of a summary that holds both
    ``var`` and ``<var>_first_order`` (over the swept dims, base_width, statistic, bound)."""
    predicted = predicted_name(var)
    if predicted not in summary:
        return []
    measured = summary[var].sel(statistic="mean")
    model = summary[predicted].sel(statistic="mean", bound="value")
    dims = [d for d in model.dims if d != "base_width"]
    rule, rows = Equivalence(margin), []
    for combo in itertools.product(*(model[d].values.tolist() for d in dims)):
        cell = dict(zip(dims, combo, strict=True))
        schedule, depth = _value(model, "schedule", cell), _value(model, "depth", cell)
        if schedule not in SCALING_SCHEDULES or depth is None:
            continue
        swept = model.schedule.values.tolist() if "schedule" in model.dims else []
        if int(depth) == 2 and schedule != "constant" and "constant" in swept:
            continue  # the same network as the constant schedule's (SCIENCE §8.5): one row
        pred = model.sel(cell)
        widths = [int(m) for m in pred.base_width.values if np.isfinite(pred.sel(base_width=m))]
        widths = [m for m in widths if schedule_beta(schedule, depth, m) <= beta_max]
        if not widths:
            continue
        m = max(widths)
        beta = schedule_beta(schedule, depth, m)
        value, low, high = (
            float(measured.sel({**cell, "base_width": m, "bound": b})) for b in ("value", "ci_low", "ci_high")
        )
        p = float(pred.sel(base_width=m))
        label = ", ".join(f"{k}={v}" for k, v in cell.items() if k != "schedule")
        where = f"m={m}, beta={beta:.3g} <= {beta_max:g}"
        claim = f"mean {var} measured / first-order prediction = 1 at {where} (schedule={schedule}, {label})"
        ratio, ci = value / p, (low / p, high / p)
        rows.append(claim_row(claim, Kind.MEASURED, 1.0, ratio, ci, rule, rule.decide(1.0, *ci)))
        if schedule == "quadratic" and int(depth) >= 3 and "constant" in swept:
            other = float(model.sel({**cell, "schedule": "constant"}).sel(base_width=m))
            if not np.isfinite(other):
                continue
            control = (
                f"mean {var} measured / the constant-width network's first-order prediction = 1 at m={m} "
                f"(schedule=quadratic, {label}): another network's law"
            )
            ratio, ci = value / other, (low / other, high / other)
            rows.append(
                claim_row(control, Kind.MEASURED, 1.0, ratio, ci, rule, rule.decide(1.0, *ci), role=Role.CONTROL)
            )
    return rows
