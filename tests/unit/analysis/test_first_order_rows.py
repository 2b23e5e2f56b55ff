"""Claim rows of the first-order prediction: posed where beta <= beta_max, with the other network's control."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.analysis.claims.first_order_rows import first_order_rows, schedule_beta
from ntk_eoc.analysis.names import BOUNDS, STATISTICS

WIDTHS = [64, 128, 256]


def _summary(measured_over_predicted: float, half_width: float) -> xr.Dataset:
    """relu, quadratic and constant at depth 4; predicted mean op_rel c / sqrt(m), c = 2 (quadratic), 3."""
    c = xr.DataArray([2.0, 3.0], dims="schedule", coords={"schedule": ["quadratic", "constant"]})
    m = xr.DataArray(WIDTHS, dims="base_width", coords={"base_width": WIDTHS})
    pred = c / np.sqrt(m)
    value = pred * measured_over_predicted
    bounds = xr.concat([value, value * (1 - half_width), value * (1 + half_width)], dim="bound")
    stats = xr.concat([bounds] * len(STATISTICS), dim="statistic")
    coords = {"statistic": list(STATISTICS), "bound": list(BOUNDS)}
    measured = stats.assign_coords(coords).transpose("schedule", "base_width", "statistic", "bound")
    predicted = xr.concat([xr.concat([pred] * 3, dim="bound")] * 3, dim="statistic").assign_coords(coords)
    ds = xr.Dataset({"op_rel": measured, "op_rel_first_order": predicted.transpose(*measured.dims)})
    return ds.assign_coords(depth=4, activation="relu")


def test_beta_of_each_schedule():
    assert math.isclose(schedule_beta("quadratic", 4, 100), (1 + 1 / 4 + 1 / 9) / 100)
    assert math.isclose(schedule_beta("constant", 4, 300), 0.01) and schedule_beta("linear", 2, 10) == 0.1


@pytest.mark.parametrize(
    ("ratio", "verdict", "control_verdict"),
    [(1.02, "holds", "fails"), (1.3, "fails", "inconclusive"), (1.08, "inconclusive", "fails")],
)
def test_rows_are_posed_at_the_largest_width_below_beta_max_and_can_fail(ratio, verdict, control_verdict):
    rows = first_order_rows(_summary(ratio, 0.04), "op_rel", beta_max=0.01, margin=0.1)
    claims = [r for r in rows if r["role"] == "claim"]
    assert len(claims) == 1  # constant widths at depth 4 need m >= 300: not posed
    assert "m=256, beta=0.00532" in claims[0]["claim"] and claims[0]["verdict"] == verdict
    assert math.isclose(claims[0]["measured"], ratio) and claims[0]["margin"] == 0.1
    (control,) = [r for r in rows if r["role"] == "control"]
    assert math.isclose(control["measured"], ratio * 2 / 3) and control["verdict"] == control_verdict


def test_no_rows_without_a_prediction_or_below_the_widths():
    summary = _summary(1.0, 0.01)
    assert first_order_rows(summary.drop_vars("op_rel_first_order"), "op_rel", beta_max=0.01, margin=0.1) == []
    assert first_order_rows(summary, "op_rel", beta_max=0.001, margin=0.1) == []
