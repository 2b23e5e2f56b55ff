"""xarray/zarr v3 stores of the pipeline: dim vocabulary, provenance, atomic writes.

Every store is a zarr v3 directory written by exactly one job through :func:`write_store` and read
through :func:`open_store`. The store contract (paths relative to ``results/<experiment>/``; the run
id is ``key~value__key~value`` over the swept keys, see :mod:`ntk_eoc.pipeline.plan`):

=================================================  =========  ========================================
path                                               variable   dims (dtype)
=================================================  =========  ========================================
``datasets/<dataset_id>.zarr``                     ``x``      (point, feature) float64, ||x||^2 = m_0
``samples/<run>/m~<w>/draws_<a>-<b>.zarr``         ``K``      (draw, i, j) sampler dtype; draws a..b-1
``gathered/<run>.zarr``                            ``K``      (base_width, draw, i, j) sampler dtype
                                                   ``layer_widths`` (base_width, level) int64: m_0..m_l
                                                   ``n_params``, ``seconds_per_draw`` (base_width)
``limit/<limit_id>.zarr``                          ``K_inf``  (i, j) float64
                                                   ``rho``, ``one_minus_rho``, ``theta``
                                                   (layer, p, q) float64, k = 1..l
                                                   ``nngp``   (p, q) float64
``min_eigen/<run>/m~<w>/draws_<a>-<b>.zarr``       ``lambda_min``, ``lambda_max`` (draw, block) float64;
                                                   ``n_params``, ``rank_zero`` (block)
=================================================  =========  ========================================

``K`` is the NTK matrix K(theta) = [(1/n) K_theta(x_p, x_q)] of size (n m_l) x (n m_l), row/column
``i = p * m_l + o`` (:mod:`ntk_eoc.math.layout`). Dimensions (:data:`DIMS`) and coordinates:

- ``draw``: draw id s (int64); draw s of a run is the network with key fold_in(key(seed), s).
- ``base_width``: base width m (int64); ``level``: 0..l, index into ``layer_widths``.
- ``i``, ``j``: matrix row/column (int64 0..n m_l - 1), with non-dimension coordinates
  ``point_i``/``out_i`` (along i) and ``point_j``/``out_j`` (along j): the data point p and output o.
- ``point``, ``feature``: rows and columns of the inputs x.
- ``p``, ``q``: data points of point-level (n x n) matrices; ``layer``: k = 1..l (int64).
- ``depth``, ``eig``, ``statistic``, ``bound``, ``quantile``: used by the analysis stores.

Attributes of every store (root group): ``config`` (the resolved config sub-tree the job used, a
dict), ``versions`` (dict of package versions), ``git_commit``, ``device``, ``created`` (UTC ISO
time), any extras passed to :func:`provenance` (e.g. ``dtype``, ``sampler_method``,
``wall_time_s``, ``run``, ``experiment``), and ``complete = True``, written last. A store is written
under a temporary sibling name and renamed into place only after ``complete`` is set, so a store
that exists at its final path is complete; :func:`open_store` still checks the mark.

Stage extras: sample stores carry ``run``, ``base_width``, ``layer_widths``, ``draw_start``,
``draw_stop``, ``seed``, ``dtype``, ``sampler_method``; ``gathered/<run>.zarr`` carries ``experiment``,
``run``, ``dataset_id``, ``limit_id`` (naming the matching stores), ``seed``, ``dtype``,
``sampler_method`` (a dict base width -> method) and ``sampling_wall_time_s``; its ``config`` is the
run's validated config without the analysis sections. The limit store depends only on (dataset,
activation, depth, output_dim), so it is shared by all width schedules and base widths.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from ..validate import NonFinite, check_finite

__all__ = [
    "COMPLETE_ATTR",
    "DIMS",
    "StoreError",
    "git_commit",
    "matrix_coords",
    "open_store",
    "provenance",
    "write_store",
]

# The dimension vocabulary of every store (see the module docstring).
DIMS: dict[str, str] = {
    "draw": "draw id s (network key fold_in(key(seed), s))",
    "base_width": "base width m of the width schedule",
    "level": "layer index 0..l of the layer widths m_0..m_l",
    "i": "row of the (n m_l) x (n m_l) NTK matrix, i = p * m_l + o",
    "j": "column of the (n m_l) x (n m_l) NTK matrix, j = q * m_l + o'",
    "point": "data point (row of the inputs x)",
    "feature": "input coordinate 0..m_0 - 1",
    "p": "data point (row of a point-level n x n matrix)",
    "q": "data point (column of a point-level n x n matrix)",
    "layer": "layer k = 1..l",
    "depth": "network depth l (limit spectra against depth)",
    "eig": "eigenvalue index, ascending",
    "statistic": "summary statistic over draws (ntk_eoc.analysis.stats.STATISTICS)",
    "bound": "point value and confidence bounds (ntk_eoc.analysis.stats.BOUNDS)",
    "quantile": "quantile level over draws",
    "block": "NTK block of the min_eigen stage: full, or layer_k (the parameters of layer k only)",
}
COMPLETE_ATTR = "complete"
# Compression of every data variable: zstd inside blosc with bit shuffling suits float kernels.
COMPRESSOR = BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")
_PACKAGES = ("ntk-eoc", "jax", "jaxlib", "numpy", "scipy", "xarray", "zarr", "snakemake", "hydra-core")


class StoreError(RuntimeError):
    """A store is missing, incomplete or holds non-finite values."""


def matrix_coords(n_points: int, output_dim: int) -> dict[str, tuple[str, np.ndarray]]:
    """Coordinates i, j, point_i, out_i, point_j, out_j of an (n m_l) x (n m_l) matrix."""
    flat = np.arange(n_points * output_dim, dtype=np.int64)
    point, out = flat // output_dim, flat % output_dim
    return {
        "i": ("i", flat),
        "j": ("j", flat),
        "point_i": ("i", point),
        "out_i": ("i", out),
        "point_j": ("j", point),
        "out_j": ("j", out),
    }


def git_commit() -> str:
    """HEAD commit of the repository holding this package (``-dirty`` if modified), or 'unknown'."""
    root = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _device() -> str:
    """The default JAX device if JAX is in use by this process, else the host machine type."""
    if "jax" in sys.modules:
        jax = sys.modules["jax"]
        dev = jax.devices()[0]
        return f"{dev.platform}:{getattr(dev, 'device_kind', dev.platform)}"
    return f"host:{platform.machine()}"


def provenance(config: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """Provenance attributes: resolved config, package versions, git commit, device, time, extras.

    Args:
        config: the resolved config sub-tree the job used (JSON-serialisable).
        extra: more attributes, e.g. ``dtype``, ``sampler_method``, ``wall_time_s``, ``device``
            (overrides the detected one).
    """
    attrs: dict[str, Any] = {
        "config": json.loads(json.dumps(dict(config))),
        "versions": _versions(),
        "git_commit": git_commit(),
        "device": _device(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    attrs.update(json.loads(json.dumps(extra, default=_jsonable)))
    return attrs


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"provenance attribute of type {type(value).__name__} is not JSON-serialisable: {value!r}")


def write_store(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    provenance: Mapping[str, Any],
    chunks: Mapping[str, tuple[int, ...]] | None = None,
) -> None:
    """Write ``ds`` as a complete zarr v3 store at ``path``, atomically.

    Checks every floating variable is finite (StoreError otherwise, nothing written), writes under a
    temporary sibling name, sets ``complete = True`` last, then renames into place (replacing an
    existing store at ``path``).

    Args:
        ds: the data; dims must come from :data:`DIMS`.
        path: the final store directory (``*.zarr``).
        provenance: attributes from :func:`provenance`; merged over ``ds.attrs``.
        chunks: zarr chunk shape per data variable (default: one chunk per variable).
    """
    path = Path(path)
    unknown = sorted(set(ds.dims) - set(DIMS))
    if unknown:
        raise ValueError(f"write_store {path}: dims {unknown} are not in store.DIMS {sorted(DIMS)}")
    if COMPLETE_ATTR in provenance:
        raise ValueError(f"write_store {path}: the {COMPLETE_ATTR!r} attribute is set by write_store only")
    try:
        check_finite(ds, where=f"write_store {path}")
    except NonFinite as err:
        raise StoreError(str(err)) from None
    out = ds.copy()
    out.attrs = {**ds.attrs, **provenance}
    encoding: dict[str, dict[str, Any]] = {}
    for name in out.data_vars:
        enc: dict[str, Any] = {"compressors": [COMPRESSOR]}
        if chunks and name in chunks:
            enc["chunks"] = tuple(chunks[name])
        encoding[name] = enc
    for name in out.variables:
        out[name].encoding = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        out.to_zarr(tmp, mode="w-", zarr_format=3, consolidated=False, encoding=encoding)
        group = zarr.open_group(tmp, mode="r+", zarr_format=3)
        group.attrs[COMPLETE_ATTR] = True
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def open_store(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a complete store lazily; StoreError if it is missing or lacks its completion mark."""
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise StoreError(f"store {path} does not exist (or is not a zarr v3 store): run the stage that writes it")
    try:
        group = zarr.open_group(path, mode="r", zarr_format=3)
    except Exception as err:  # zarr raises several types for unreadable metadata
        raise StoreError(f"store {path} is unreadable: {err}") from err
    if group.attrs.get(COMPLETE_ATTR) is not True:
        raise StoreError(
            f"store {path} is incomplete (no {COMPLETE_ATTR}=True attribute): rerun the job that writes it"
        )
    with warnings.catch_warnings():
        # Snakemake's .snakemake_timestamp file inside directory() outputs is not a zarr node.
        warnings.filterwarnings("ignore", message=".*snakemake_timestamp", category=UserWarning)
        return xr.open_dataset(path, engine="zarr", consolidated=False, zarr_format=3, chunks=None)
