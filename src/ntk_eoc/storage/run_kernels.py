"""The kernels of one run, read from its sample stores without storing them twice.

A sample store holds K(theta_s) over (base_width, draw, i, j) for one group of base widths and one block
of draw ids (stage sample); :func:`kernels_of_run` puts all the stores of a run side by side: per base
width, the blocks concatenated along ``draw`` (ids 0..N-1, each once), then the widths stacked, with the
per-width cost variables ``layer_widths``, ``n_params`` and ``seconds_per_draw``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

__all__ = ["kernels_of_run"]


def _per_width(blocks: Sequence[xr.Dataset]) -> dict[int, list[xr.Dataset]]:
    """Base width -> the one-width slices of every block holding it."""
    out: dict[int, list[xr.Dataset]] = {}
    for block in blocks:
        for width in block["base_width"].values.tolist():
            out.setdefault(int(width), []).append(block.sel(base_width=width))
    return out


def kernels_of_run(
    blocks: Sequence[xr.Dataset], base_widths: Sequence[int] | None = None, draws: int | None = None
) -> xr.Dataset:
    """K over (base_width, draw, i, j) of a run from its sample stores, with ``layer_widths``
    (base_width, level), ``n_params`` and ``seconds_per_draw`` (base_width; the blocks' times weighted by
    their draws). Every base width must hold the same draw ids 0..N-1, each once, and where given exactly
    the run's ``base_widths`` and ``draws``; ValueError otherwise.
    """
    stacks, layer_widths, n_params, per_draw = [], [], [], []
    by_width = _per_width(blocks)
    widths = sorted(by_width)
    for width in widths:
        parts = sorted(by_width[width], key=lambda b: int(b["draw"].values[0]))
        kernel = xr.concat([p["K"].load() for p in parts], dim="draw")
        ids = kernel["draw"].values
        if not np.array_equal(ids, np.arange(ids.size)):
            expected = f"0..{ids.size - 1} once each"
            raise ValueError(f"base width {width}: draw ids must be {expected}, got {ids.tolist()}")
        stacks.append(kernel.drop_vars("base_width"))
        layer_widths.append(parts[0]["layer_widths"].values)
        n_params.append(int(parts[0]["n_params"]))
        counts = [p.sizes["draw"] for p in parts]
        per_draw.append(float(np.dot(counts, [float(p["seconds_per_draw"]) for p in parts]) / sum(counts)))
    sizes = {s.sizes["draw"] for s in stacks}
    if len(sizes) != 1:
        raise ValueError(f"base widths {widths} hold different numbers of draws: {sorted(sizes)}")
    if base_widths is not None and [int(w) for w in widths] != sorted(int(w) for w in base_widths):
        raise ValueError(f"the sample stores hold base widths {widths}, the run has {sorted(base_widths)}")
    if draws is not None and sizes != {int(draws)}:
        raise ValueError(f"the sample stores hold {sizes.pop()} draws per base width, the run has {draws}")
    kernels = xr.concat(stacks, dim=xr.DataArray(np.asarray(widths, dtype=np.int64), dims="base_width"))
    ds = kernels.to_dataset(name="K")
    ds["layer_widths"] = (("base_width", "level"), np.asarray(layer_widths, dtype=np.int64))
    ds["n_params"] = ("base_width", np.asarray(n_params, dtype=np.int64))
    ds["seconds_per_draw"] = ("base_width", np.asarray(per_draw, dtype=np.float64))
    return ds.assign_coords(level=np.arange(ds.sizes["level"], dtype=np.int64))
