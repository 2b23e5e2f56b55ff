"""Fixtures of the fault-injection suite: every kind of store written once, copied per test."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import xarray as xr
from fault_stores import KINDS
from zarr.errors import UnstableSpecificationWarning

from ntk_eoc.storage.store import provenance, write_store


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, xr.Dataset]]:
    """Every kind written once: kind -> (store path, the dataset written)."""
    root = tmp_path_factory.mktemp("pristine")
    out = {}
    for kind, build in KINDS.items():
        ds, chunks = build()
        with warnings.catch_warnings():
            # zarr warns that fixed-length string coordinates (block, activation) have no v3 spec yet.
            warnings.simplefilter("ignore", UnstableSpecificationWarning)
            write_store(ds, root / f"{kind}.zarr", provenance({"kind": kind}, stage=kind), chunks=chunks)
        out[kind] = (root / f"{kind}.zarr", ds)
    return out


@pytest.fixture
def fresh(pristine, tmp_path: Path) -> Callable[[str], Path]:
    """fresh(kind): a private copy of the pristine store of that kind, to damage."""

    def copy(kind: str) -> Path:
        target = tmp_path / f"{kind}.zarr"
        shutil.copytree(pristine[kind][0], target)
        return target

    return copy
