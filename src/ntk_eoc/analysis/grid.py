"""The runs of an experiment on one grid whose dims are the swept keys, and reference cells.

A figure shows at most two swept keys at once; every other swept key is fixed at a reference value
(:data:`REFERENCE`): the largest ``depth`` and ``base_width``, the smallest ``output_dim``, the
``quadratic`` schedule (if swept), the first value of any other key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..math.schedules import SCHEDULES, Schedule, WidthSchedule

__all__ = ["REFERENCE", "grid", "one_per_network", "reference", "with_settings"]

# Swept key -> how a figure that does not show it picks its value.
REFERENCE = {
    "depth": max,
    "base_width": max,
    "output_dim": min,
    "schedule": lambda names: "quadratic" if "quadratic" in names else names[0],
}
# Dims that are never fixed at a reference value.
_KEPT = ("draw", "statistic", "bound", "quantile", "eig", "resample")


def grid(stores: Sequence[xr.Dataset], axes: Sequence[Sequence[tuple[str, Any]]]) -> xr.Dataset:
    """Per-run datasets on one grid over the swept keys (``axes``: each run's typed (key, value) pairs in
    sweep order); ValueError if it has holes."""
    parts = [ds.expand_dims({k: [v] for k, v in run_axes}) for ds, run_axes in zip(stores, axes, strict=True)]
    for part in parts:
        part.attrs = {}
    if len(parts) > 1:
        out = xr.combine_by_coords(parts, combine_attrs="drop", join="outer", compat="no_conflicts", coords="different")
    else:
        out = parts[0]
    swept = {k for run_axes in axes for k, _ in run_axes}
    cells = int(np.prod([out.sizes[d] for d in out.dims if d in swept]))
    if cells != len(parts):
        raise ValueError(f"the {len(parts)} runs do not fill the grid {dict(out.sizes)}: sweep a full product")
    return out


def reference(obj, keep: Sequence[str]):
    """Fix every swept dim not in ``keep`` at its reference value (module docstring)."""
    sel = {}
    for dim in obj.dims:
        if dim in keep or dim in _KEPT:
            continue
        pick = REFERENCE.get(dim)
        sel[dim] = pick(obj[dim].values.tolist()) if pick else obj[dim].values[0]
    return obj.sel(sel)


def with_settings(ds: xr.Dataset, settings: Mapping[str, Any]) -> xr.Dataset:
    """``ds`` with each setting that is not a dim as a scalar coordinate (what the claims rows read)."""
    return ds.assign_coords({k: v for k, v in settings.items() if k not in ds.dims and v is not None})


def _network(settings: Mapping[str, Any]) -> tuple:
    """The settings with the schedule replaced by the one that names its widths at that depth."""
    out = dict(settings)
    sched, depth = out.get("schedule"), out.get("depth")
    if sched in SCHEDULES and depth is not None:
        out["schedule"] = str(WidthSchedule(Schedule(sched)).canonical(int(depth)).name)
    return tuple(sorted((k, str(v)) for k, v in out.items()))


def one_per_network(cells: Sequence[Mapping[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The cells that are distinct networks (SCIENCE §8.5): for each group of cells whose settings differ
    only by a schedule that gives the same widths at their depth (every schedule at depth 2), the index of
    its first cell and that cell's settings with ``schedule`` listing the group's schedules, comma-joined.

    Example:
        >>> one_per_network([{"schedule": "quadratic", "depth": 2}, {"schedule": "constant", "depth": 2}])
        [(0, {'schedule': 'quadratic,constant', 'depth': 2})]
    """
    groups: dict[tuple, list[int]] = {}
    for index, cell in enumerate(cells):
        groups.setdefault(_network(cell), []).append(index)
    out = []
    for members in groups.values():
        first = dict(cells[members[0]])
        if len(members) > 1 and "schedule" in first:
            first["schedule"] = ",".join(dict.fromkeys(str(cells[i]["schedule"]) for i in members))
        out.append((members[0], first))
    return out
