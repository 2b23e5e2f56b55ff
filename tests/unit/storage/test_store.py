"""Stores: round trip, provenance attributes, completion mark, atomic replacement, finiteness, checksums,
manifest, stale temporaries, plain xarray reads. Damage of every kind: ``tests/faults/``."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from ntk_eoc.storage import integrity, store, writer


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
    from threadpoolctl import threadpool_info  # the BLAS that numpy runs on, with the core type it chose

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]

    def libs(infos):
        return sorted((b["internal_api"], b["version"], str(b.get("architecture"))) for b in infos)

    assert blas and libs(back.attrs["blas"]) == libs(blas)  # sorted: the same whatever the load order
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


def test_every_array_is_checksummed_and_every_chunk_written(tmp_path):
    ds = _kernels().assign(n_params=("draw", np.zeros(3, np.int64)))  # all fill value: still written
    store.write_store(ds, tmp_path / "s.zarr", store.provenance({}), chunks={"K": (1, 4, 4)})
    for name in ("K", "n_params", "draw", "i", "point_i"):
        meta = json.loads((tmp_path / "s.zarr" / name / "zarr.json").read_text())
        assert [c["name"] for c in meta["codecs"]][-1] == "crc32c"
    assert sorted(p.name for p in (tmp_path / "s.zarr" / "K" / "c").iterdir()) == ["0", "1", "2"]
    assert (tmp_path / "s.zarr" / "n_params" / "c" / "0").is_file()
    manifest = json.loads((tmp_path / "s.zarr" / integrity.MANIFEST_FILE).read_text())
    files = {p.relative_to(tmp_path / "s.zarr").as_posix() for p in (tmp_path / "s.zarr").rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {integrity.MANIFEST_FILE}


def test_plain_open_zarr_reads_a_store_without_warnings(tmp_path):
    store.write_store(_kernels(), tmp_path / "w.zarr", store.provenance({}))
    (tmp_path / "w.zarr" / ".snakemake_timestamp").touch()  # what Snakemake adds to directory() outputs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = xr.open_zarr(tmp_path / "w.zarr").load()
        checked = store.open_store(tmp_path / "w.zarr").load()
    xr.testing.assert_identical(plain, checked)


def test_stale_temporaries_of_the_store_are_removed_before_writing(tmp_path):
    stale = tmp_path / ".c.zarr.tmp-0123abcd"
    (stale / "K").mkdir(parents=True)
    other = tmp_path / ".cc.zarr.tmp-0123abcd"  # another store's temporary: left alone
    other.mkdir()
    store.write_store(_kernels(), tmp_path / "c.zarr", store.provenance({}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cc.zarr.tmp-0123abcd", "c.zarr"]


def test_a_failed_write_leaves_no_temporary_and_the_old_store(tmp_path, monkeypatch):
    path = tmp_path / "f.zarr"
    store.write_store(_kernels(), path, store.provenance({"v": 1}))

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_manifest", fail)
    with pytest.raises(OSError, match="No space left"):
        store.write_store(_kernels(np.zeros((3, 4, 4), np.float32)), path, store.provenance({"v": 2}))
    assert [p.name for p in tmp_path.iterdir()] == ["f.zarr"]
    assert store.open_store(path).attrs["config"] == {"v": 1}


def test_a_store_without_manifest_is_refused_with_the_way_out(tmp_path):
    store.write_store(_kernels(), tmp_path / "old.zarr", store.provenance({}))
    (tmp_path / "old.zarr" / integrity.MANIFEST_FILE).unlink()
    with pytest.raises(store.StoreCorrupt, match=r"written without an integrity manifest.*ntk-eoc verify --repair"):
        store.open_store(tmp_path / "old.zarr")


def test_fast_verification_leaves_chunk_digests_to_reads_full_checks_them_up_front(tmp_path):
    path = tmp_path / "v.zarr"
    store.write_store(_kernels(), path, store.provenance({}), chunks={"K": (1, 4, 4)})
    chunk = path / "K" / "c" / "2" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[-9] ^= 0x01
    chunk.write_bytes(bytes(data))
    message = rf"store {path}: array 'K' chunk c/2/0/0: sha256 differs"
    lazy = store.open_store(path)
    np.testing.assert_array_equal(lazy["K"][:2].values, _kernels()["K"][:2].values)  # other chunks read fine
    with pytest.raises(store.StoreCorrupt, match=message):
        lazy["K"].load()
    with pytest.raises(store.StoreCorrupt, match=message):
        store.open_store(path, verify="full")
    with pytest.raises(ValueError, match="verify='slow'"):
        store.open_store(path, verify="slow")


def test_a_failed_rename_into_place_keeps_the_old_store(tmp_path, monkeypatch):
    path = tmp_path / "r.zarr"
    store.write_store(_kernels(), path, store.provenance({"v": 1}))
    real, onto_path = os.replace, []

    def flaky(src, dst):
        if Path(dst) == path:
            onto_path.append(Path(src).name)
            if len(onto_path) == 1:  # the new store onto the final name, the old one already moved aside
                raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(writer.os, "replace", flaky)
    with pytest.raises(OSError, match="Input/output error"):
        store.write_store(_kernels(np.zeros((3, 4, 4), np.float32)), path, store.provenance({"v": 2}))
    assert len(onto_path) == 2 and onto_path[0] != onto_path[1]  # the old store moved back
    assert [p.name for p in tmp_path.iterdir()] == ["r.zarr"]
    assert store.open_store(path, verify="full").attrs["config"] == {"v": 1}


def test_a_store_at_another_jobs_path_is_refused_naming_it(tmp_path):
    """Two complete, intact sample stores swapped between their paths (each with a valid manifest) are not
    read as each other's: the recorded key, stage and draw block must be what the path spells."""
    from ntk_eoc.storage.scan import verify_tree

    root = tmp_path / "results" / "stores"
    keys = ["sphere-n4-d3-s0/relu__constant__depth~4__out~1/seed~0__float32__auto",
            "sphere-n4-d3-s0/relu__quadratic__depth~4__out~1/seed~0__float32__auto"]  # fmt: skip
    paths = [root / "samples" / key / "m~8" / "draws_0-3.zarr" for key in keys]
    for key, path, scale in zip(keys, paths, (1.0, 2.0), strict=True):
        attrs = store.provenance({}, stage="sample", key=key, draw_start=0, draw_stop=3)
        store.write_store(_kernels() * scale, path, attrs)
    for path in paths:
        assert store.open_store(path).attrs["key"] in str(path)
    swap = paths[0].with_name("swap.zarr")
    paths[0].rename(swap), paths[1].rename(paths[0]), swap.rename(paths[1])
    misplaced = r"holds key '.*relu__quadratic.*' \(stage sample\), which its path does not spell"
    with pytest.raises(store.StoreMisplaced, match=misplaced):
        store.open_store(paths[0])
    checked, bad = verify_tree(root, report=(lines := []).append)
    assert (checked, bad) == (2, 2) and all("moved, copied or swapped" in line for line in lines)
    # the same key in another stage's folder, and another block of draws under the right key
    other = root / "min_eigen" / keys[0] / "m~8" / "draws_0-3.zarr"
    store.write_store(_kernels(), other, store.provenance({}, stage="sample", key=keys[0], draw_start=0, draw_stop=3))
    with pytest.raises(store.StoreMisplaced, match=r"\(stage sample\), which its path does not spell"):
        store.open_store(other)
    # outside a stores tree (a stage run by hand to a path of its own) there is no path to compare
    alone = tmp_path / "mine.zarr"
    store.write_store(_kernels(), alone, store.provenance({}, stage="sample", key=keys[0], draw_start=0, draw_stop=3))
    assert store.open_store(alone).attrs["key"] == keys[0]
    block = root / "samples" / keys[0] / "m~8" / "draws_3-6.zarr"
    store.write_store(_kernels(), block, store.provenance({}, stage="sample", key=keys[0], draw_start=0, draw_stop=3))
    with pytest.raises(store.StoreMisplaced, match="holds draws 0-3, not the block 3-6"):
        store.open_store(block)


def test_the_path_check_knows_every_keyed_stage_folder():
    """The storage layer's list of stage folders is the pipeline's (outputs.STORE_PATTERNS), datasets aside
    (they record no key)."""
    from ntk_eoc.pipeline.outputs import STORE_PATTERNS

    folders = {pattern.split("/")[0] for stage, pattern in STORE_PATTERNS.items() if stage != "dataset"}
    assert folders == set(integrity._FOLDERS)
    assert integrity._STAGE_FOLDERS == {s: STORE_PATTERNS[s].split("/")[0] for s in STORE_PATTERNS
                                        if STORE_PATTERNS[s].split("/")[0] != s and s != "dataset"}  # fmt: skip
