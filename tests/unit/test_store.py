"""Stores: round trip, provenance attributes, completion mark, atomic replacement, finiteness."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import zarr

from ntk_eoc.storage import store


def _kernels(values: np.ndarray | None = None) -> xr.Dataset:
    k = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4) if values is None else values
    return xr.Dataset(
        {"K": (("draw", "i", "j"), k)},
        coords={"draw": np.arange(10, 13, dtype=np.int64), **store.matrix_coords(2, 2)},
    )


def test_round_trip_is_identical_and_carries_provenance(tmp_path):
    ds = _kernels()
    attrs = store.provenance({"sampler": {"seed": 3}}, dtype="float32", wall_time_s=np.float64(1.5))
    store.write_store(ds, tmp_path / "a.zarr", attrs, chunks={"K": (1, 4, 4)})
    back = store.open_store(tmp_path / "a.zarr")
    xr.testing.assert_identical(back.drop_attrs(deep=False), ds)
    assert back.attrs["config"] == {"sampler": {"seed": 3}}
    assert back.attrs["dtype"] == "float32" and back.attrs["wall_time_s"] == 1.5
    assert back.attrs["complete"] is True
    assert {"jax", "numpy", "xarray", "zarr", "python"} <= set(back.attrs["versions"])
    assert len(back.attrs["git_commit"]) >= 7 and back.attrs["device"]
    assert zarr.open_array(tmp_path / "a.zarr" / "K", mode="r").chunks == (1, 4, 4)


def test_matrix_coords_follow_point_major_layout():
    coords = store.matrix_coords(3, 2)
    np.testing.assert_array_equal(coords["point_i"][1], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(coords["out_j"][1], [0, 1, 0, 1, 0, 1])


def test_store_without_complete_mark_is_refused(tmp_path):
    _kernels().to_zarr(tmp_path / "partial.zarr", zarr_format=3, consolidated=False)
    with pytest.raises(store.StoreError, match="incomplete"):
        store.open_store(tmp_path / "partial.zarr")


def test_missing_store_is_refused(tmp_path):
    with pytest.raises(store.StoreError, match="does not exist"):
        store.open_store(tmp_path / "nothing.zarr")


def test_non_finite_values_fail_before_anything_is_written(tmp_path):
    bad = np.ones((3, 4, 4), dtype=np.float32)
    bad[1, 2, 3] = np.nan
    message = r"variable 'K' has 1 non-finite value\(s\) \(first at \{'draw': 1, 'i': 2, 'j': 3\}"
    with pytest.raises(store.StoreError, match=message):
        store.write_store(_kernels(bad), tmp_path / "b.zarr", store.provenance({}))
    assert list(tmp_path.iterdir()) == []


def test_rewrite_replaces_the_store_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "c.zarr"
    store.write_store(_kernels(), path, store.provenance({}))
    store.write_store(_kernels(np.zeros((3, 4, 4), np.float32)), path, store.provenance({"v": 2}))
    back = store.open_store(path)
    assert float(back["K"].sum()) == 0.0 and back.attrs["config"] == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["c.zarr"]


def test_unknown_dims_and_reserved_attrs_are_rejected(tmp_path):
    ds = xr.Dataset({"v": (("dim_0",), np.zeros(2))})
    with pytest.raises(ValueError, match=r"dims \['dim_0'\]"):
        store.write_store(ds, tmp_path / "d.zarr", store.provenance({}))
    with pytest.raises(ValueError, match="'complete'"):
        store.write_store(_kernels(), tmp_path / "e.zarr", {"complete": True})
