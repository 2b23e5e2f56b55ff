"""Archive one view's results (``results/<view>/``, named ``<experiment>`` below) and the shared stores it
reads into a single zip, verify it, restore it safely.

Layout of the archive (all members STORED, uncompressed: the zarr chunks are already compressed):

- ``results/<experiment>/<path>.zarr.zip``: one member per zarr store (a directory with a
  ``zarr.json``) at ``results/<experiment>/<path>.zarr``. Each member is itself a zip whose entries are
  the store's files, byte for byte, at their paths relative to the store root, so it is also a valid
  zarr v3 zip store (``zarr.storage.ZipStore(path, mode="r")`` reads it once extracted). Copying the
  files instead of re-encoding through xarray keeps chunks, codecs, attributes and the store's
  integrity manifest exactly as written.
- ``results/<experiment>/<path>``: every other regular file (tables, figures, resolved configs,
  benchmarks), byte for byte.
- ``results/stores/<path>.zarr.zip``: the shared stores the view reads (``pack(..., stores=[...])``; the
  workflow's ``archive`` rule passes every store of the view's plan), under the same rules; whole
  further folders with ``extra_roots``.
- ``environment.json``: experiment name, python, platform, git commit, versions of all installed
  distributions, creation time.
- ``MANIFEST.json``: experiment, roots, and size and sha256 of every other member (plus the total
  size of each store zip's entries); :mod:`.format` states what a valid archive may hold.

:func:`pack` refuses a store that fails full verification (:func:`~.integrity.verify_store`), so an
archive never preserves a damaged store. Temporaries (``.*.tmp-*``) and stores moved aside
(``.*.bad-*``) are skipped. Snakemake's ``.snakemake/metadata`` is not archived: it belongs to the
source working directory (code, params and software-environment records) and is not needed to read
the data.

:func:`restore` checks the archive's structure (names, entry types, roots, manifest) and that no
target exists before writing anything; then extracts every member into a temporary folder
``DEST/.ntk-eoc-restore-<id>/``, checking sizes (read through a counter capped at the recorded size)
and sha256 digests, and every restored store against its integrity manifest; only when all of that
passed are the results renamed into place. Any failure removes the temporary folder and leaves
``DEST`` as it was (folders restore created are removed again). It never overwrites: an existing
``DEST/results/<experiment>``, or any existing target file or store, is an error. Stores come back as
directory stores at their original paths, readable with :func:`~.store.open_store`; each file gets
the modification time recorded in the zip (2-second resolution), so the mtime order of inputs and
outputs survives. Snakemake run in ``DEST`` with the same workflow and config then finds nothing to
do, warning that the jobs have no metadata; params or code changes are therefore not detected for
restored outputs (use ``--forcerun``). If mtimes were lost, ``snakemake --touch`` marks the outputs up
to date.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..integrity import METADATA_FILE, StoreError, file_sha256, is_transient, verify_store
from ..store import git_commit
from .format import (
    ENVIRONMENT,
    FORMAT,
    MANIFEST,
    RESULTS,
    ArchiveError,
    ArchiveManifest,
    is_plain_name,
    read_manifest,
    sha256_hex,
)
from .verification import check_data, check_structure, targets

__all__ = ["MANIFEST", "MAX_RESTORE_BYTES", "MAX_RESTORE_RATIO", "ArchiveError", "pack", "restore", "verify"]

RESTORE_PREFIX = ".ntk-eoc-restore-"
# Restore's caps (raised with --max-gib and --max-ratio): the bytes written, and their ratio to the archive's
# size; members are stored uncompressed, so an honest archive restores to about its own size.
MAX_RESTORE_BYTES = 256 * 2**30
MAX_RESTORE_RATIO = 4.0
# The results folder's shared stores (ntk_eoc.pipeline.plan): archived store by store.
SHARED = "stores"
log = logging.getLogger(__name__)


def _is_store(path: Path) -> bool:
    return path.is_dir() and (path / METADATA_FILE).is_file()


def _no_link(path: Path) -> None:
    """ArchiveError when ``path`` is a symbolic link: pack records what is in the folder, never where a link
    points (a link could take a file from outside the view into the archive)."""
    if path.is_symlink():
        raise ArchiveError(f"{path} is a symbolic link to {os.readlink(path)}: pack does not follow links "
                           "(copy the target in or remove the link)")  # fmt: skip


def _walk(root: Path) -> Iterator[tuple[Path, bool]]:
    """(path, is_store) for every zarr store and every file outside stores under ``root``, sorted; a
    symbolic link anywhere below ``root`` is an ArchiveError."""
    for entry in sorted(root.iterdir()):
        if is_transient(entry.name):
            continue
        _no_link(entry)
        if _is_store(entry):
            yield entry, True
        elif entry.is_dir():
            yield from _walk(entry)
        elif entry.is_file():
            yield entry, False


def _zip_store(directory: Path, out: Path) -> int:
    """Zip every file of a verified store (paths relative to it), STORED, mtimes kept; returns their total size."""
    files = []
    for path in sorted(directory.rglob("*")):
        _no_link(path)
        if path.is_file():
            files.append(path)
    try:
        verify_store(directory, full=True)
    except StoreError as err:
        raise ArchiveError(f"refusing to archive a damaged store: {err}") from None
    total = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in files:
            zf.write(path, path.relative_to(directory).as_posix())
            total += path.stat().st_size
    return total


def environment(experiment: str) -> dict[str, Any]:
    """Experiment name, python, platform, git commit and installed distribution versions."""
    packages = {dist.metadata["Name"]: dist.version for dist in importlib.metadata.distributions()}
    return {
        "experiment": experiment,
        "python": sys.version,
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _roots(experiment_dir: Path, extra_roots: Sequence[str | os.PathLike[str]]) -> dict[str, Path]:
    """Archive root name (``results/...``) -> folder, for the experiment and each extra root."""
    if not experiment_dir.is_dir():
        raise ArchiveError(f"experiment directory {experiment_dir} does not exist")
    experiment = experiment_dir.resolve().name
    if not is_plain_name(experiment):
        raise ArchiveError(f"experiment name {experiment!r} is not a plain name ([A-Za-z0-9_+=,.-], no leading '.')")
    results = experiment_dir.resolve().parent
    roots = {f"{RESULTS}/{experiment}": experiment_dir}
    for extra in map(Path, extra_roots):
        try:
            rel = extra.resolve().relative_to(results)
        except ValueError:
            raise ArchiveError(f"extra root {extra} is not inside the results folder {results}") from None
        if not extra.is_dir() or not rel.parts or not all(is_plain_name(p) for p in rel.parts):
            raise ArchiveError(f"extra root {extra} must be a folder under {results} with plain names")
        roots[f"{RESULTS}/{rel.as_posix()}"] = extra
    return roots


def _shared_stores(experiment_dir: Path, stores: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The given stores, resolved; each must be a store inside ``<results>/stores/``."""
    folder = experiment_dir.resolve().parent / SHARED
    out = []
    for store in map(Path, stores):
        path = store.resolve()
        if not path.is_relative_to(folder) or not _is_store(path):
            raise ArchiveError(f"{store} is not a store inside the shared folder {folder}")
        out.append(path)
    return sorted(set(out))


def _pack_root(
    zf: zipfile.ZipFile, name: str, folder: Path, scratch: Path, members: dict[str, Any], only: Sequence[Path] = ()
) -> None:
    """Pack every store and file under ``folder`` as ``<name>/<relative path>``, or just the stores ``only``."""
    entries = [(path, True) for path in only] if only else _walk(folder)
    for path, is_store in entries:
        rel = path.relative_to(folder).as_posix()
        entry: dict[str, Any] = {}
        if is_store:
            source, member = scratch / "store.zip", f"{name}/{rel}.zip"
            entry["inner_size"] = _zip_store(path, source)
        else:
            source, member = path, f"{name}/{rel}"
        zf.write(source, member)
        members[member] = {"sha256": file_sha256(source), "size": source.stat().st_size, **entry}
        log.info("packed %s (%d bytes)", member, members[member]["size"])


def pack(
    experiment_dir: str | os.PathLike[str],
    out_zip: str | os.PathLike[str],
    extra_roots: Sequence[str | os.PathLike[str]] = (),
    stores: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Pack ``results/<experiment>/`` (``experiment_dir``) and any ``extra_roots`` (folders inside the
    same results folder, packed whole) into ``out_zip``; returns the zip path. ``stores`` are single
    stores of the results folder's shared ``stores/`` folder, packed under the root ``results/stores``
    (the stores one experiment reads, without those of other experiments).

    Every store is fully verified first (ArchiveError naming a damaged one). The zip is written under
    a temporary sibling name and renamed into place when complete.
    """
    roots = _roots(Path(experiment_dir), extra_roots)
    shared = _shared_stores(Path(experiment_dir), stores)
    experiment = Path(experiment_dir).resolve().name
    out = Path(out_zip)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:12]}")
    members: dict[str, dict[str, Any]] = {}
    try:
        with (
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf,
            tempfile.TemporaryDirectory() as scratch,
        ):
            for name, folder in roots.items():
                _pack_root(zf, name, folder, Path(scratch), members)
            if shared:
                folder = Path(experiment_dir).resolve().parent / SHARED
                _pack_root(zf, f"{RESULTS}/{SHARED}", folder, Path(scratch), members, shared)
                roots[f"{RESULTS}/{SHARED}"] = folder
            env = json.dumps(environment(experiment), indent=2).encode()
            zf.writestr(ENVIRONMENT, env)
            members[ENVIRONMENT] = {"sha256": sha256_hex(env), "size": len(env)}
            manifest = {"format": FORMAT, "experiment": experiment, "roots": list(roots), "members": members}
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s: %d members", out, len(members) + 1)
    return out


def _open(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as err:
        raise ArchiveError(f"{zip_path}: not a readable zip: {err}") from None


def verify(zip_path: str | os.PathLike[str]) -> list[str]:
    """Problems of an archive, one ``"<member>: <problem>"`` line each; empty when it is intact.

    Checks the manifest, every entry's name and type, that members lie in the manifest's roots and are
    listed there once, and every member's size (capped reading) and sha256, store zips' entries
    included (:mod:`.archive_format`). Reads the archive through; writes only to a temporary folder.
    """
    zip_path = Path(zip_path)
    try:
        zf = _open(zip_path)
    except ArchiveError as err:
        return [str(err)]
    with zf:
        try:
            manifest = read_manifest(zf)
        except ArchiveError as err:
            return [str(err)]
        problems = check_structure(zf, manifest)
        if problems:
            return problems
        with tempfile.TemporaryDirectory() as scratch:
            return check_data(zf, manifest, Path(scratch), extract=False)


def _refuse(zip_path: Path, problems: list[str]) -> ArchiveError:
    more = f" (and {len(problems) - 1} more problem(s): ntk-eoc archive verify lists them)" if len(problems) > 1 else ""
    return ArchiveError(f"{zip_path} failed verification: {problems[0]}{more}")


def _links_on_the_way(dest: Path, manifest: ArchiveManifest) -> None:
    """ArchiveError when a folder restore would write through is a symbolic link (``DEST/results``,
    ``DEST/results/<view>``, ``DEST/results/stores`` and every folder below them): restore writes nothing
    outside DEST."""
    seen: set[Path] = set()
    for rel in [*manifest.roots, *targets(manifest)]:
        path = dest
        for part in Path(rel).parts:
            path = path / part
            if path in seen:
                continue
            seen.add(path)
            if path.is_symlink():
                raise ArchiveError(
                    f"{path} is a symbolic link to {os.readlink(path)}: restore writes nothing outside {dest}"
                )
            if not path.exists():
                break


def _size_caps(zip_path: Path, manifest: ArchiveManifest, dest: Path, max_bytes: int, max_ratio: float) -> int:
    """The bytes restore will write (every member's recorded size; a store zip's entries at their total),
    refused over ``max_bytes``, over ``max_ratio`` times the archive's own size (the archive is stored
    uncompressed, so an honest one restores to about its size), or over the free space at DEST."""
    total = sum(
        m.inner_size if m.inner_size is not None else m.size
        for name, m in manifest.members.items()
        if name != ENVIRONMENT
    )
    size = zip_path.stat().st_size
    if total > max_bytes:
        raise ArchiveError(
            f"{zip_path} would restore {total / 2**30:.2f} GiB, over the cap of {max_bytes / 2**30:.2f} GiB "
            "(raise it with --max-gib)"
        )
    if total > max_ratio * max(size, 1):
        raise ArchiveError(
            f"{zip_path} would restore {total} bytes from {size}, {total / max(size, 1):.0f} times its size, over "
            f"the cap of {max_ratio:g} (raise it with --max-ratio)"
        )
    free = shutil.disk_usage(dest).free
    if total > free:
        raise ArchiveError(f"{zip_path} would restore {total / 2**30:.2f} GiB; {dest} has {free / 2**30:.2f} GiB free")
    return total


def _conflicts(dest: Path, manifest: ArchiveManifest) -> None:
    home = dest / RESULTS / manifest.experiment
    if home.exists() or home.is_symlink():
        raise ArchiveError(f"{home} already exists; restore into an empty directory")
    for rel in targets(manifest):
        path = dest / rel
        if path.exists() or path.is_symlink():
            raise ArchiveError(f"{path} already exists; restore never overwrites")


def _makedirs(path: Path, created: list[Path]) -> None:
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir()
        created.append(folder)


def _merge(src: Path, dst: Path, moved: list[tuple[Path, Path]], created: list[Path]) -> None:
    """Rename ``src`` to ``dst``, or, where ``dst`` is an existing plain folder, merge entry by entry."""
    if not dst.exists() and not dst.is_symlink():
        _makedirs(dst.parent, created)
        os.rename(src, dst)
        moved.append((src, dst))
    elif dst.is_dir() and not dst.is_symlink() and src.is_dir() and not _is_store(src):
        for child in sorted(src.iterdir()):
            _merge(child, dst / child.name, moved, created)
    else:
        raise ArchiveError(f"{dst} already exists; restore never overwrites")


def _move_into_place(work: Path, dest: Path, manifest: ArchiveManifest, created: list[Path]) -> None:
    """Rename the verified results from ``work`` into ``dest``; on any error undo every rename."""
    moved: list[tuple[Path, Path]] = []
    try:
        for root in manifest.roots:
            if (work / root).exists():
                _merge(work / root, dest / root, moved, created)
    except BaseException:
        for src, dst in reversed(moved):
            os.rename(dst, src)
        raise


def restore(
    zip_path: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    max_bytes: int = MAX_RESTORE_BYTES,
    max_ratio: float = MAX_RESTORE_RATIO,
) -> Path:
    """Unpack a verified archive into ``dest_dir``, all or nothing; returns ``dest_dir/results/<experiment>``.

    See the module docstring: structure and target checks first, then extraction and verification
    in ``dest_dir/.ntk-eoc-restore-<id>/``, then renames into place; ``environment.json`` and
    ``MANIFEST.json`` stay in the zip. ``dest_dir`` is resolved once; a symbolic link on the way below it
    is refused, as is an archive that would restore more than ``max_bytes``, more than ``max_ratio`` times
    its own size, or more than the free space. ArchiveError (one line) on any problem, ``dest_dir``
    unchanged.
    """
    zip_path, dest = Path(zip_path), Path(dest_dir).resolve()
    created: list[Path] = []
    with _open(zip_path) as zf:
        manifest = read_manifest(zf)
        problems = check_structure(zf, manifest)
        if problems:
            raise _refuse(zip_path, problems)
        _links_on_the_way(dest, manifest)
        _conflicts(dest, manifest)
        existing = dest
        while not existing.exists():
            existing = existing.parent
        _size_caps(zip_path, manifest, existing, max_bytes, max_ratio)
        _makedirs(dest, created)
        work = dest / f"{RESTORE_PREFIX}{uuid.uuid4().hex[:12]}"
        try:
            work.mkdir()
            problems = check_data(zf, manifest, work, extract=True)
            if problems:
                raise _refuse(zip_path, problems)
            _move_into_place(work, dest, manifest, created)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            for folder in reversed(created):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            raise
        shutil.rmtree(work, ignore_errors=True)
    log.info("restored %s", dest / RESULTS / manifest.experiment)
    return dest / RESULTS / manifest.experiment
