"""Interrupted writes: a writer killed with SIGKILL, and a full disk, never leave a store that reads as
complete; the next write removes the killed writer's temporary and matches a clean write bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from fault_stores import SEED

import ntk_eoc
from ntk_eoc.storage.integrity import build_manifest
from ntk_eoc.storage.scan import verify_tree
from ntk_eoc.storage.store import StoreError, open_store, write_store

# Fixed attributes instead of provenance(): the killed and the clean write must be byte-identical.
ATTRS = {"config": {"seed": SEED}, "created": "2024-06-11T00:00:00+00:00"}
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np, xarray as xr
    from ntk_eoc.storage import store

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(store, sys.argv[2], die)
    k = np.random.default_rng(int(sys.argv[3])).standard_normal((4, 6, 6)).astype(np.float32)
    ds = xr.Dataset({"K": (("draw", "i", "j"), k)}, coords={"draw": np.arange(4, dtype=np.int64)})
    store.write_store(ds, sys.argv[1], {"config": {"seed": int(sys.argv[3])}, "created": "2024-06-11T00:00:00+00:00"})
    """
)


def _kernels() -> xr.Dataset:
    k = np.random.default_rng(SEED).standard_normal((4, 6, 6)).astype(np.float32)
    return xr.Dataset({"K": (("draw", "i", "j"), k)}, coords={"draw": np.arange(4, dtype=np.int64)})


@pytest.mark.parametrize("kill_at", ["write_manifest", "move_into_place"])
def test_a_killed_writer_leaves_no_store_and_the_rerun_matches_a_clean_write(kill_at: str, tmp_path: Path) -> None:
    path = tmp_path / "run" / "draws_0-4.zarr"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(ntk_eoc.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run([sys.executable, "-c", KILLER, str(path), kill_at, str(SEED)], env=env, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    left = [p.name for p in path.parent.iterdir()]
    assert len(left) == 1 and left[0].startswith(".draws_0-4.zarr.tmp-")  # only the temporary
    assert verify_tree(path.parent) == (0, 0)  # walkers ignore it
    with pytest.raises(StoreError, match="does not exist"):
        open_store(path)

    write_store(_kernels(), path, ATTRS)  # the rerun
    assert [p.name for p in path.parent.iterdir()] == ["draws_0-4.zarr"]
    clean = tmp_path / "clean" / "draws_0-4.zarr"
    write_store(_kernels(), clean, ATTRS)
    assert build_manifest(path) == build_manifest(clean)  # every file, bit for bit
    xr.testing.assert_identical(open_store(path).load(), open_store(clean).load())


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted for the test (root on Linux only), unmounted afterwards."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root on Linux")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_leaves_no_store_that_reads_as_complete(small_disk: Path) -> None:
    path = small_disk / "results" / "x.zarr"
    small = _kernels()
    write_store(small, path, ATTRS)
    rng = np.random.default_rng(SEED + 1)
    big = xr.Dataset({"K": (("draw", "i", "j"), rng.standard_normal((16, 64, 64)))})  # 512 KiB, incompressible
    with pytest.raises(OSError, match="No space left on device"):
        write_store(big, path, ATTRS, chunks={"K": (1, 64, 64)})
    with pytest.raises(OSError, match="No space left on device"):
        write_store(big, small_disk / "results" / "y.zarr", ATTRS, chunks={"K": (1, 64, 64)})
    assert [p.name for p in path.parent.iterdir()] == ["x.zarr"]  # no temporary, no partial y.zarr
    xr.testing.assert_identical(open_store(path, verify="full").load(), open_store(path).load())
    np.testing.assert_array_equal(open_store(path)["K"].values, small["K"].values)  # the old store, intact
    assert verify_tree(small_disk, full=True) == (1, 0)
