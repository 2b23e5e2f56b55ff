"""A run's kernels from its sample stores: draw ids, base widths and draw counts as the run expects."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ntk_eoc.storage.run_kernels import kernels_of_run


def _block(widths: list[int], start: int, stop: int) -> xr.Dataset:
    k = np.ones((len(widths), stop - start, 2, 2))
    return xr.Dataset(
        {
            "K": (("base_width", "draw", "i", "j"), k),
            "layer_widths": (("base_width", "level"), [[3, w, 1] for w in widths]),
            "n_params": ("base_width", [4 * w for w in widths]),
            "seconds_per_draw": ("base_width", [0.1] * len(widths)),
        },
        coords={"base_width": widths, "draw": np.arange(start, stop)},
    )


def test_blocks_join_into_the_runs_grid_and_anything_else_is_refused():
    blocks = [_block([8, 16], 0, 3), _block([8, 16], 3, 5)]
    out = kernels_of_run(blocks, base_widths=[8, 16], draws=5)
    assert out.K.dims == ("base_width", "draw", "i", "j") and out.sizes["draw"] == 5
    with pytest.raises(ValueError, match=r"hold base widths \[8, 16\], the run has \[8, 16, 32\]"):
        kernels_of_run(blocks, base_widths=[8, 16, 32], draws=5)
    with pytest.raises(ValueError, match="hold 5 draws per base width, the run has 8"):
        kernels_of_run(blocks, base_widths=[8, 16], draws=8)
    with pytest.raises(ValueError, match=r"draw ids must be 0\.\.4 once each"):
        kernels_of_run([_block([8, 16], 0, 3), _block([8, 16], 4, 6)])
