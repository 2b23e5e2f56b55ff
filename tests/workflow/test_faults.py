"""Faults through the whole workflow: Snakemake killed mid-run, a store damaged after a run.

A kill -9 of Snakemake (and of the jobs it started) leaves the working directory locked and some jobs
incomplete; after ``snakemake --unlock`` a rerun completes and every array equals that of a clean run, bit
for bit. A flipped bit in a finished sample store is reported by ``ntk-eoc verify`` naming the store; after
``verify --repair`` and ``snakemake --forcerun <store>`` the store and everything made from it are
recomputed, equal to the originals. (The store-level faults of every kind of store are in tests/faults.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from workflow_helpers import LOCAL_ENV, SNAKEMAKE, TINY, Project, copy_workflow

from ntk_eoc.storage.integrity import MANIFEST_FILE

NTK_EOC = str(Path(sys.executable).parent / "ntk-eoc")
# Variables that measure time differ between any two runs (see also tests/workflow/test_slurm.py).
TIMING = ("seconds_per_draw",)
# A hung kill or rerun must not hang the suite; never reached by a passing run.
HANG_GUARD_S = 600


def _arrays(root: Path) -> dict[str, bytes]:
    """Every array of every store under results/stores/, as bytes, by '<store>:<array>'."""
    out = {}
    for store in sorted((root / "results/stores").rglob("*.zarr")):
        if (store / MANIFEST_FILE).is_file():
            for name, array in zarr.open_group(store, mode="r").arrays():
                if name not in TIMING:
                    out[f"{store.relative_to(root)}:{name}"] = np.asarray(array[...]).tobytes()
    return out


def _first_sample_store(root: Path, timeout: float) -> Path | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = [p for p in (root / "results/stores/samples").rglob("*.zarr")] if (root / "results").exists() else []
        if found:
            return found[0]
        time.sleep(0.2)
    return None


@pytest.mark.slow
def test_a_killed_run_resumes_and_matches_a_clean_run(completed, tmp_path):
    project = Project(copy_workflow(tmp_path / "killed"))
    cmd = [SNAKEMAKE, "--cores", "2", "--config", *TINY]
    run = subprocess.Popen(cmd, cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=LOCAL_ENV, start_new_session=True)  # fmt: skip
    try:
        assert _first_sample_store(project.root, HANG_GUARD_S) is not None, "no sample store was written"
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # Snakemake and every job it started
        run.wait(timeout=HANG_GUARD_S)
    assert not (project.root / "results/tiny/tables/claims.csv").exists()  # killed before the end
    assert project.run("--unlock").returncode == 0
    project.run("--cores", "2")
    assert "Nothing to be done" in project.run("-n").stdout
    clean, resumed = _arrays(completed.root), _arrays(project.root)
    assert resumed.keys() == clean.keys() and all(resumed[k] == clean[k] for k in clean)


def _flip_a_bit(store: Path) -> Path:
    chunk = next(p for p in sorted((store / "K").rglob("*")) if p.is_file() and p.name != "zarr.json")
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10
    chunk.write_bytes(bytes(data))
    return chunk


@pytest.mark.slow
def test_a_damaged_store_is_named_then_recomputed_with_everything_made_from_it(completed, tmp_path):
    root = tmp_path / "damaged"
    shutil.copytree(completed.root, root, symlinks=True)
    project = Project(root)
    plan = project.plan()
    store = root / plan.sample_paths(plan.runs[next(iter(plan.runs))])[0]
    original = _arrays(root)
    _flip_a_bit(store)
    check = subprocess.run([NTK_EOC, "verify", "results", "--full"], cwd=root, capture_output=True, text=True)
    assert check.returncode == 1 and str(store.relative_to(root)) in check.stdout + check.stderr
    repair = subprocess.run([NTK_EOC, "verify", "results", "--repair"], cwd=root, capture_output=True, text=True)
    assert repair.returncode == 1 and not store.exists()  # moved aside
    jobs = project.planned("--forcerun", str(store.relative_to(root)))
    assert {rule for rule, _ in jobs} >= {"sample", "concentration", "figures"}
    project.run("--cores", "2", "--forcerun", str(store.relative_to(root)))
    again = subprocess.run([NTK_EOC, "verify", "results", "--full"], cwd=root, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _arrays(root) == original
