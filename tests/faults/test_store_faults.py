"""Damage to stores of every kind is an error naming the store (and the array and chunk), never a number.

Where each fault is caught (asserted below):

===========================================  ==============================================================
fault                                        caught by
===========================================  ==============================================================
bit flip in a chunk (size unchanged)         reading it: ``.load()``/``.values`` (fast open); ``open_store``
                                             with ``verify="full"``; plain zarr readers by the crc32c codec;
                                             flips in an index coordinate already at ``open_store`` (xarray
                                             reads index coordinates when opening)
truncated chunk, deleted chunk               ``open_store`` (sizes and presence are checked when opening)
chunk deleted after opening                  reading it
chunk missing from the manifest too          reading it: never the fill value (0 for integers, NaN)
edited zarr.json (endian, dtype, shape,      ``open_store`` (metadata files are hashed when opening)
fill value, codecs, attributes)
deleted, edited or invalid manifest          ``open_store``
unlisted file in the store                   ``open_store``
===========================================  ==============================================================
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr
from fault_stores import KINDS, SEED

from ntk_eoc.storage.integrity import MANIFEST_FILE, StoreCorrupt, describe, load_manifest
from ntk_eoc.storage.store import open_store

SAMPLED_FLIPS = 24  # (chunk, bit) pairs per store kind


def _chunks(path: Path) -> dict[str, int]:
    """Chunk key -> recorded size, for every chunk file of the store."""
    files = load_manifest(path, str(path)).files
    return {key: record.size for key, record in sorted(files.items()) if not key.endswith("zarr.json")}


def _array(key: str) -> str:
    return key.partition("/c")[0]


def _flip(path: Path, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_and_deleted_chunks_are_caught_when_opened(kind: str, fresh: Callable[[str], Path]) -> None:
    path = fresh(kind)
    for key, size in _chunks(path).items():
        chunk = path / key
        original = chunk.read_bytes()
        for keep in (size - 1, 0):
            chunk.write_bytes(original[:keep])
            message = f"store {path}: {describe(key)}: size {keep} != {size} recorded (truncated?)"
            with pytest.raises(StoreCorrupt, match=re.escape(message)):
                open_store(path)
        chunk.unlink()
        with pytest.raises(StoreCorrupt, match=re.escape(f"store {path}: {describe(key)}: missing (recorded with")):
            open_store(path)
        chunk.write_bytes(original)
    open_store(path).load()


@pytest.mark.parametrize("kind", KINDS)
def test_a_chunk_deleted_after_opening_is_caught_when_read(kind: str, fresh: Callable[[str], Path]) -> None:
    path = fresh(kind)
    ds = open_store(path)
    for name in ds.data_vars:
        (path / name / "c").rename(path / name / "gone")
        with pytest.raises(StoreCorrupt, match=re.escape(f"store {path}: array '{name}' chunk c")):
            ds[name].to_numpy()
        (path / name / "gone").rename(path / name / "c")


@pytest.mark.parametrize(
    ("kind", "name"), [("gathered", "n_params"), ("min_eigen", "n_params"), ("min_eigen", "rank_zero")]
)
def test_a_chunk_missing_from_disk_and_manifest_never_reads_as_the_fill_value(kind, name, fresh) -> None:
    path = fresh(kind)
    (path / name / "c" / "0").unlink()
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    del manifest["files"][f"{name}/c/0"]  # a consistent manifest without it: only the read can tell
    manifest["sha256"] = hashlib.sha256(json.dumps(manifest["files"], sort_keys=True, separators=(",", ":")).encode())
    manifest["sha256"] = manifest["sha256"].hexdigest()
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))
    ds = open_store(path)
    with pytest.raises(StoreCorrupt, match=re.escape(f"array '{name}' chunk c/0: not in the manifest")):
        ds[name].to_numpy()
    assert zarr.open_array(path / name, mode="r")[:].tolist() in ([0, 0], [0, 0, 0], [False] * 3)  # what it hides


def test_every_single_bit_flip_of_a_sample_chunk_is_caught(fresh: Callable[[str], Path]) -> None:
    path = fresh("sample")
    chunk = path / "K" / "c" / "0" / "0" / "0"
    bits = 8 * chunk.stat().st_size
    assert bits > 2000  # the attack flipped all 2,344 bits of a 293-byte chunk
    ds = open_store(path)  # fast verification: sizes unchanged, so flips are found when reading
    plain = zarr.open_array(path / "K", mode="r")
    message = re.escape(f"store {path}: array 'K' chunk c/0/0/0: sha256 differs from the manifest")
    for bit in range(bits):
        _flip(chunk, bit)
        with pytest.raises(StoreCorrupt, match=message):
            ds["K"].to_numpy()
        with pytest.raises(ValueError, match="checksum do not match"):  # any zarr reader: the crc32c codec
            plain[:]
        _flip(chunk, bit)
    np.testing.assert_array_equal(ds["K"].values, KINDS["sample"]()[0]["K"].values)


@pytest.mark.parametrize("kind", KINDS)
def test_sampled_bit_flips_are_caught_in_every_kind(kind: str, fresh: Callable[[str], Path]) -> None:
    path = fresh(kind)
    chunks = list(_chunks(path).items())
    rng = np.random.default_rng(SEED + sorted(KINDS).index(kind))
    for pick in rng.choice(len(chunks), SAMPLED_FLIPS):
        key, size = chunks[pick]
        bit = int(rng.integers(8 * size))
        _flip(path / key, bit)
        message = re.escape(f"store {path}: {describe(key)}: sha256 differs from the manifest")
        if _is_index_after_flip(path, key):
            with pytest.raises(StoreCorrupt, match=message):
                open_store(path)
        else:
            with pytest.raises(StoreCorrupt, match=message):
                open_store(path)[_array(key)].to_numpy()
            with pytest.raises(StoreCorrupt, match=message):
                open_store(path, verify="full")
        _flip(path / key, bit)


def _is_index_after_flip(path: Path, key: str) -> bool:
    """Whether the damaged array is an index coordinate (read by xarray when opening)."""
    meta = json.loads((path / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    name = _array(key)
    return meta[name].get("dimension_names") == [name]


def _edits(meta: dict) -> dict[str, dict]:
    """Plausible edits of an array's zarr.json: each keeps valid JSON and valid zarr metadata."""
    out = {}
    endian = json.loads(json.dumps(meta))
    endian["codecs"][0].setdefault("configuration", {})["endian"] = "big"
    out["endian"] = endian
    dtype = dict(
        meta,
        data_type={"float64": "float32", "float32": "float64", "int64": "int32", "bool": "uint8"}.get(
            meta["data_type"], "float64"
        ),
    )
    out["dtype"] = dtype
    if meta["shape"]:
        out["shape"] = dict(meta, shape=[meta["shape"][0] + 1, *meta["shape"][1:]])
    out["fill_value"] = dict(meta, fill_value=7 if meta["data_type"] != "bool" else True)
    out["codecs"] = dict(meta, codecs=meta["codecs"][:-1])  # crc32c dropped
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_edits_are_caught_when_opened(kind: str, fresh: Callable[[str], Path]) -> None:
    path = fresh(kind)
    name = next(iter(KINDS[kind]()[0].data_vars))
    meta_path = path / name / "zarr.json"
    original = meta_path.read_bytes()
    for meta in _edits(json.loads(original)).values():
        meta_path.write_text(json.dumps(meta, indent=2))
        with pytest.raises(StoreCorrupt, match=re.escape(f"store {path}: array '{name}' metadata {name}/zarr.json")):
            open_store(path)
        meta_path.write_bytes(original)
    same_size = original.replace(b'"endian": "little"', b'"endian": "big"   ')  # valid JSON, same length
    assert same_size != original and len(same_size) == len(original)
    meta_path.write_bytes(same_size)
    with pytest.raises(StoreCorrupt, match=re.escape(f"array '{name}' metadata {name}/zarr.json: sha256 differs")):
        open_store(path)
    meta_path.write_bytes(original)
    root = path / "zarr.json"
    original = root.read_bytes()
    doc = json.loads(original)
    doc["consolidated_metadata"]["metadata"][name] = _edits(doc["consolidated_metadata"]["metadata"][name])["endian"]
    doc["attributes"]["config"] = {"kind": "edited"}
    root.write_text(json.dumps(doc, indent=2))
    with pytest.raises(StoreCorrupt, match=re.escape(f"store {path}: root metadata zarr.json: ")):
        open_store(path)


def test_manifest_damage_and_unlisted_files_are_caught_when_opened(fresh: Callable[[str], Path]) -> None:
    path = fresh("gathered")
    manifest = path / MANIFEST_FILE
    original = manifest.read_bytes()
    doc = json.loads(original)
    doc["files"]["K/c/1/0/0/0"]["size"] += 1
    cases = {
        json.dumps(doc): "manifest.json is damaged: its file list does not match its own sha256",
        original.decode()[:-20]: "manifest.json is damaged",
        json.dumps({**doc, "format": "other"}): "manifest.json is damaged: format 'other'",
    }
    for text, message in cases.items():
        manifest.write_text(text)
        with pytest.raises(StoreCorrupt, match=re.escape(f"store {path}: {message}")):
            open_store(path)
    doc["sha256"] = hashlib.sha256(json.dumps(doc["files"], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    manifest.write_text(json.dumps(doc))  # consistent, but not what is on disk
    with pytest.raises(StoreCorrupt, match=r"array 'K' chunk c/1/0/0/0: size \d+ != \d+ recorded \(truncated\?\)"):
        open_store(path)
    manifest.unlink()
    with pytest.raises(StoreCorrupt, match="written without an integrity manifest"):
        open_store(path)
    manifest.write_bytes(original)
    (path / "K" / "c" / "9").mkdir()
    (path / "K" / "c" / "9" / "0").write_bytes(b"\0" * 8)
    with pytest.raises(StoreCorrupt, match=re.escape("unlisted file K/c/9/0 (array 'K' chunk c/9/0")):
        open_store(path)
