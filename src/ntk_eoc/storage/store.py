"""xarray/zarr v3 stores of the pipeline: dim vocabulary, provenance, atomic writes.

Every store is a zarr v3 directory written by exactly one job through :func:`write_store` and read
through :func:`open_store`. Stores live under ``results/stores/``, shared by every experiment, and are
named by the values they depend on (:mod:`ntk_eoc.pipeline.outputs`): a dataset ``<dataset>`` such as
``sphere-n32-d16-s0``, a network ``<act>__<schedule>__depth~<l>__out~<m_l>`` and a sampler
``seed~<s>__<dtype>__<method>``. The store contract:

=================================================================  =========  ==================================
path under ``results/stores/``                                     variable   dims (dtype)
=================================================================  =========  ==================================
``datasets/<dataset>.zarr``                                        ``x``      (point, feature) float64
``samples/<dataset>/<network>/<sampler>/m~<w..>/draws_<a>-<b>.zarr``  ``K``   (base_width, draw, i, j) sampler dtype
                                                                   ``layer_widths`` (base_width, level) int64
                                                                   ``n_params``, ``seconds_per_draw`` (base_width)
``limit/<dataset>/<act>__depth~<l>__out~<m_l>.zarr``               ``K_inf``  (i, j) float64; ``rho``,
                                                                   ``one_minus_rho``, ``theta`` (layer, p, q);
                                                                   ``nngp`` (p, q)
``concentration/<dataset>/<network>/<sampler>/m~<w>__draws~<N>.zarr``  deviations and ``lambda_min``,
                                                                   ``lambda_max`` (base_width, draw) float64
``fluctuations/<dataset>/<network>/<sampler>/m~<w>__draws~<N>.zarr``   ``v_diag``, ``v_off`` with CIs,
                                                                   ``v_diag_pred``, ``v_dsum_pred``
                                                                   (base_width); ``v_diag_boot``
                                                                   (base_width, resample);
                                                                   ``v_diag_jack`` (base_width, draw)
``first_order/<dataset>/<network>/fo~<S>~<D>~<seed>.zarr``         ``covariance`` (pair, pair_b),
                                                                   ``mean_shift``, ``K_inf`` (p, q);
                                                                   norms of K - K_inf (model_draw), at m = 1
``spectrum/<dataset>/<act>__depths~<span>.zarr``                   spectrum of K_inf (depth[, eig]) float64
``min_eigen/<dataset>/<network>/<sampler>/m~<w>/draws_<a>-<b>.zarr``  ``lambda_min``, ``lambda_max`` (draw,
                                                                   block) float64; ``n_params``,
                                                                   ``rank_zero`` (block)
=================================================================  =========  ==================================

``K`` is the NTK matrix K(theta) = [(1/n) K_theta(x_p, x_q)] of size (n m_l) x (n m_l), row/column
``i = p * m_l + o`` (:mod:`ntk_eoc.math.layout`). Dimensions (:data:`DIMS`) and coordinates:

- ``draw``: draw id s (int64); draw s of a run is the network with key fold_in(key(seed), s).
- ``base_width``: base width m (int64); ``level``: 0..l, index into ``layer_widths``.
- ``i``, ``j``: matrix row/column (int64 0..n m_l - 1), with non-dimension coordinates
  ``point_i``/``out_i`` (along i) and ``point_j``/``out_j`` (along j): the data point p and output o.
- ``point``, ``feature``: rows and columns of the inputs x.
- ``p``, ``q``: data points of point-level (n x n) matrices; ``layer``: k = 1..l (int64).
- ``depth``, ``eig``, ``statistic``, ``bound``, ``quantile``, ``resample``: used by the analysis stores.

Attributes of every store (root group): ``config`` (the resolved config sub-tree the job used, a
dict), ``versions`` (dict of package versions), ``git_commit``, ``device``, ``created`` (UTC ISO
time), any extras passed to :func:`provenance` (e.g. ``dtype``, ``sampler_method``,
``wall_time_s``, ``run``, ``experiment``), and ``complete = True``. A store is written under a
temporary sibling name ``.<name>.tmp-<id>``; ``complete``, the consolidated metadata and the integrity
manifest (:mod:`.integrity`) are written last, and only then is the store renamed into place, so a
store that exists at its final path is complete. The next write of a store removes the temporaries a
killed writer left. :func:`open_store` verifies the store before reading it and checks every chunk
it reads against the manifest (:mod:`.integrity`): a missing, truncated, changed or unlisted file is a
:class:`StoreError` naming the store, the array and the chunk, never a fill value or a silent change.

Every array (data and coordinates) is compressed with :data:`COMPRESSOR` followed by the ``crc32c``
checksum codec, and every chunk is written (``write_empty_chunks``), so plain ``xr.open_zarr`` also
fails on a flipped bit. The metadata is consolidated (into the root ``zarr.json``), so
``xr.open_zarr(path)`` reads a store without listing it and without warnings (Snakemake's
``.snakemake_timestamp`` file is never looked at).

Stage extras: sample stores carry ``key``, ``draw_start``, ``draw_stop``, ``weight_seed``, ``dtype``,
``sampler_method`` and the job's timing (``draw_seconds``, ``compile_seconds``); concentration stores
``key`` and ``limit_key`` (naming the stores they were computed from); fluctuation stores
``random_numbers``. The limit store depends only on (dataset, activation, depth, output_dim), so it is
shared by all width schedules and base widths. A run's kernels are read across its sample stores by
:func:`ntk_eoc.storage.run_kernels.kernels_of_run`; nothing is copied.
"""

from __future__ import annotations

import datetime as _dt
import enum
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec

from ..validate import NonFinite, check_finite, choice
from .integrity import (
    COMPLETE_ATTR,
    CheckedStore,
    StoreCorrupt,
    StoreError,
    StoreMisplaced,
    verify_store,
    write_manifest,
)
from .writer import GuardedStore, move_into_place, remove_stale_temporaries, temporary_path

__all__ = [
    "COMPLETE_ATTR",
    "DIMS",
    "StoreCorrupt",
    "StoreError",
    "StoreMisplaced",
    "Verify",
    "git_commit",
    "matrix_coords",
    "open_store",
    "provenance",
    "verify_store",
    "write_store",
]

log = logging.getLogger(__name__)

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
    "resample": "bootstrap resample b (the same draw-id resamples in every cell of a store)",
    "pair": "upper-triangle entry (pair_i <= pair_j) of a point-level n x n matrix (first-order covariance rows)",
    "pair_b": "upper-triangle entry, the covariance's columns (the same order as pair)",
    "model_draw": "draw of the first-order Gaussian law of K - K_inf (SCIENCE §6.1), not a network draw",
}
# Compression of every array: zstd inside blosc with bit shuffling suits float kernels; then the
# crc32c checksum of the compressed bytes, so a flipped bit fails decoding in any zarr reader.
COMPRESSOR = BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")
CODECS = (COMPRESSOR, Crc32cCodec())
_PACKAGES = ("ntk-eoc", "jax", "jaxlib", "numpy", "scipy", "xarray", "zarr", "snakemake", "hydra-core")
# zarr warns on every consolidation that consolidated metadata is not (yet) in the v3 spec; ntk-eoc
# writes it so that xr.open_zarr needs no listing (issue 13) and reads it only through xarray/zarr.
_CONSOLIDATED_WARNING = "Consolidated metadata is currently not part"


class Verify(enum.StrEnum):
    """How much :func:`open_store` verifies up front (chunks read are always checked)."""

    FAST = "fast"  # manifest, sizes, metadata digests
    FULL = "full"  # also every chunk's digest


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
    """Provenance attributes: resolved config, package versions, git commit, device, BLAS (library, version,
    core type), time, extras.

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
        "blas": _blas(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    attrs.update(json.loads(json.dumps(extra, default=_jsonable)))
    return attrs


def _blas() -> list[dict[str, Any]]:
    """The BLAS libraries numpy and scipy run on (threadpoolctl): library, version, the core type its kernels
    were chosen for (OpenBLAS ``architecture``) and threading layer. Rounding-level results, such as the sign
    of a singular draw's lambda_min, depend on the core type (SCIENCE §8.7)."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "architecture", "threading_layer")
    found = [{k: info.get(k) for k in keys} for info in threadpool_info() if info.get("user_api") == "blas"]
    return sorted(found, key=lambda lib: json.dumps(lib, sort_keys=True))  # in load order otherwise


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"provenance attribute of type {type(value).__name__} is not JSON-serialisable: {value!r}")


def _encoding(ds: xr.Dataset, chunks: Mapping[str, tuple[int, ...]] | None) -> dict[str, dict[str, Any]]:
    """Checksummed compression and every chunk written, for every variable (data and coordinates)."""
    encoding: dict[str, dict[str, Any]] = {}
    for name in ds.variables:
        enc: dict[str, Any] = {"compressors": list(CODECS), "write_empty_chunks": True}
        if chunks and name in chunks:
            enc["chunks"] = tuple(chunks[name])
        encoding[str(name)] = enc
    return encoding


def _finish(tmp: Path) -> None:
    """Mark the store complete, consolidate its metadata and write its manifest, in that order."""
    group = zarr.open_group(tmp, mode="r+", zarr_format=3)
    group.attrs[COMPLETE_ATTR] = True
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)
        zarr.consolidate_metadata(tmp, zarr_format=3)
    write_manifest(tmp)


def _variable_length_strings(ds: xr.Dataset) -> xr.Dataset:
    """Fixed-width unicode variables (numpy ``<U``) as variable-length strings: zarr v3 specifies the
    latter (``string``) but warns that the former has no specification yet."""
    for name, var in ds.variables.items():
        if var.dtype.kind == "U":
            ds[name] = var.astype(object)
    return ds


def write_store(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    provenance: Mapping[str, Any],
    chunks: Mapping[str, tuple[int, ...]] | None = None,
) -> None:
    """Write ``ds`` as a complete, self-checking zarr v3 store at ``path``, atomically.

    Checks every floating variable is finite (StoreError otherwise, nothing written), removes the
    temporaries of earlier interrupted writes of ``path``, writes under a temporary sibling name
    (crc32c-checksummed chunks, every chunk written), sets ``complete = True``, consolidates the
    metadata, writes the integrity manifest, then renames into place (replacing a store at ``path``).
    On any error (a full disk included) the temporary is removed and ``path`` is left as it was.

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
    out = _variable_length_strings(ds.copy())
    out.attrs = {**ds.attrs, **provenance}
    for name in out.variables:
        out[name].encoding = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_path(path)
    guarded = GuardedStore.at(tmp)
    try:
        out.to_zarr(guarded, mode="w-", zarr_format=3, consolidated=False, encoding=_encoding(out, chunks))
        _finish(tmp)
        move_into_place(tmp, path)
    finally:
        guarded.writes.stop()  # after a failed chunk write, others may still be in flight
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def open_store(path: str | os.PathLike[str], verify: Verify | str = Verify.FAST) -> xr.Dataset:
    """Open a complete store lazily after verifying it; every chunk read is checked again.

    Verification (:mod:`.integrity`) runs before anything is read: ``"fast"`` checks the manifest,
    every file's presence and size and the metadata digests; ``"full"`` also every chunk's digest.
    The dataset reads through :class:`~.integrity.CheckedStore`, which checks each chunk's digest
    before zarr decodes it, so a damaged chunk raises :class:`StoreCorrupt` (naming the store, the
    array and the chunk) from ``.load()``/``.values``: lazy reading keeps large sample stores
    readable one base width at a time, and no value is decoded from unverified bytes.

    Raises:
        StoreError: the store is missing, incomplete, has no manifest, or fails verification.
    """
    mode = choice("verify", verify, Verify, where="open_store")
    manifest = verify_store(path, full=mode is Verify.FULL)
    try:
        return xr.open_dataset(
            CheckedStore.at(path, manifest), engine="zarr", consolidated=True, zarr_format=3, chunks=None
        )
    except StoreError:
        raise
    except Exception as err:  # zarr and xarray raise several types for unreadable metadata
        raise StoreCorrupt(f"store {path} is unreadable: {type(err).__name__}: {err}") from err
