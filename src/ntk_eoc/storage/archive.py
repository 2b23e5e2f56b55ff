"""Archive one experiment's results into a single zip, verify it, restore it.

Layout of the archive (all members STORED, uncompressed: the zarr chunks are already compressed):

- ``results/<experiment>/<path>.zarr.zip``: one member per zarr store (a directory with a
  ``zarr.json``) at ``results/<experiment>/<path>.zarr``. Each member is itself a zip whose entries are
  the store's files, byte for byte, at their paths relative to the store root, so it is also a valid
  zarr v3 zip store (``zarr.storage.ZipStore(path, mode="r")`` reads it once extracted). Copying the
  files instead of re-encoding through xarray keeps chunks, codecs and attributes exactly as written.
- ``results/<experiment>/<path>``: every other regular file (tables, figures, resolved configs,
  benchmarks), byte for byte.
- ``environment.json``: experiment name, python, platform, git commit, versions of all installed
  distributions, creation time.
- ``MANIFEST.json``: ``{"experiment": ..., "members": {name: {"sha256": ..., "size": ...}}}`` for every
  other member.

Temporary store directories (``.*.tmp-*``) are skipped. Snakemake's ``.snakemake/metadata`` is not
archived: it belongs to the source working directory (code, params and software-environment
records) and is not needed to read the data.

:func:`restore` writes the stores back as directory stores at ``dest/results/<experiment>/``, readable
with :func:`ntk_eoc.storage.store.open_store`, and sets each file's modification time to the one recorded
in the zip (2-second resolution), so the mtime order of inputs and outputs survives. Snakemake run in
``dest`` with the same workflow and config then finds nothing to do, warning that the jobs have no
metadata; params or code changes are therefore not detected for restored outputs (use
``--forcerun``). If mtimes were lost, ``snakemake --touch`` marks the outputs up to date.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from .store import git_commit

__all__ = ["MANIFEST", "ArchiveError", "pack", "restore", "verify"]

MANIFEST = "MANIFEST.json"
ENVIRONMENT = "environment.json"
STORE_SUFFIX = ".zarr.zip"
_CHUNK = 1 << 20
log = logging.getLogger(__name__)


class ArchiveError(RuntimeError):
    """An archive cannot be written, read or restored."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _is_store(path: Path) -> bool:
    return path.is_dir() and (path / "zarr.json").is_file()


def _walk(root: Path) -> Iterator[tuple[Path, bool]]:
    """(path, is_store) for every zarr store and every file outside stores under ``root``, sorted."""
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") and ".tmp-" in entry.name:
            continue
        if _is_store(entry):
            yield entry, True
        elif entry.is_dir():
            yield from _walk(entry)
        elif entry.is_file():
            yield entry, False


def _zip_directory(directory: Path, out: Path) -> None:
    """Zip every file under ``directory`` (paths relative to it), STORED, mtimes kept."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            zf.write(path, path.relative_to(directory).as_posix())


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


def pack(experiment_dir: str | os.PathLike[str], out_zip: str | os.PathLike[str]) -> Path:
    """Pack ``results/<experiment>/`` (``experiment_dir``) into ``out_zip``; returns the zip path.

    The zip is written under a temporary sibling name and renamed into place when complete.
    """
    root = Path(experiment_dir)
    if not root.is_dir():
        raise ArchiveError(f"experiment directory {root} does not exist")
    experiment = root.resolve().name
    prefix = PurePosixPath("results", experiment)
    out = Path(out_zip)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    members: dict[str, dict[str, Any]] = {}
    try:
        with (
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf,
            tempfile.TemporaryDirectory() as scratch,
        ):
            for path, is_store in _walk(root):
                rel = path.relative_to(root).as_posix()
                if is_store:
                    source = Path(scratch) / "store.zip"
                    _zip_directory(path, source)
                    name = str(prefix / (rel + ".zip"))
                else:
                    source, name = path, str(prefix / rel)
                zf.write(source, name)
                members[name] = {"sha256": _sha256(source), "size": source.stat().st_size}
                log.info("packed %s (%d bytes)", name, members[name]["size"])
            env = json.dumps(environment(experiment), indent=2).encode()
            zf.writestr(ENVIRONMENT, env)
            members[ENVIRONMENT] = {"sha256": hashlib.sha256(env).hexdigest(), "size": len(env)}
            manifest = {"experiment": experiment, "members": members}
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s: %d members", out, len(members) + 1)
    return out


def _read_manifest(zf: zipfile.ZipFile) -> dict[str, Any]:
    if MANIFEST not in zf.namelist():
        raise ArchiveError(f"{MANIFEST}: missing")
    try:
        manifest = json.loads(zf.read(MANIFEST))
        members = manifest["members"]
        if not isinstance(members, dict) or not isinstance(manifest["experiment"], str):
            raise TypeError("members must be an object and experiment a string")
    except KeyError as err:
        raise ArchiveError(f"{MANIFEST}: lacks key {err}") from None
    except (ValueError, TypeError, zipfile.BadZipFile) as err:
        raise ArchiveError(f"{MANIFEST}: unreadable: {err}") from None
    return manifest


def verify(zip_path: str | os.PathLike[str]) -> list[str]:
    """Problems of an archive, one ``"<member>: <problem>"`` string each; empty when it is intact.

    Reports members listed in the manifest but missing, members whose size or sha256 differ from the
    manifest (or that cannot be read), members not listed in the manifest, and an unreadable zip or
    manifest (named by the zip path or ``MANIFEST.json``).
    """
    zip_path = Path(zip_path)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as err:
        return [f"{zip_path}: not a readable zip: {err}"]
    problems: list[str] = []
    with zf:
        try:
            listed = _read_manifest(zf)["members"]
        except ArchiveError as err:
            return [str(err)]
        present = [info.filename for info in zf.infolist()]
        for name, entry in listed.items():
            if name not in present:
                problems.append(f"{name}: missing")
                continue
            digest, size = hashlib.sha256(), 0
            try:
                with zf.open(name) as fh:
                    while block := fh.read(_CHUNK):
                        digest.update(block)
                        size += len(block)
            except (zipfile.BadZipFile, OSError) as err:
                problems.append(f"{name}: unreadable: {err}")
                continue
            if size != entry.get("size") or digest.hexdigest() != entry.get("sha256"):
                problems.append(f"{name}: size or sha256 differs from {MANIFEST}")
        for name in dict.fromkeys(present):
            if name != MANIFEST and name not in listed:
                problems.append(f"{name}: not listed in {MANIFEST}")
            elif present.count(name) > 1:
                problems.append(f"{name}: duplicate member")
    return problems


def _safe_target(dest: Path, name: str) -> Path:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts:
        raise ArchiveError(f"member {name!r} points outside the destination")
    return dest.joinpath(*rel.parts)


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    mtime = time.mktime((*info.date_time, 0, 0, -1))
    os.utime(target, (mtime, mtime))


def restore(zip_path: str | os.PathLike[str], dest_dir: str | os.PathLike[str]) -> Path:
    """Unpack a verified archive into ``dest_dir``; returns ``dest_dir/results/<experiment>``.

    Stores come back as directory stores at their original paths; ``environment.json`` and
    ``MANIFEST.json`` stay in the zip. Refuses (ArchiveError) an archive that fails :func:`verify` or
    an experiment directory that already exists under ``dest_dir``.
    """
    zip_path, dest = Path(zip_path), Path(dest_dir)
    problems = verify(zip_path)
    if problems:
        raise ArchiveError(f"{zip_path} failed verification: " + "; ".join(problems))
    with zipfile.ZipFile(zip_path) as zf:
        manifest = _read_manifest(zf)
        experiment_dir = dest / "results" / manifest["experiment"]
        if experiment_dir.exists():
            raise ArchiveError(f"{experiment_dir} already exists; restore into an empty directory")
        with tempfile.TemporaryDirectory() as scratch:
            for info in zf.infolist():
                if info.filename in (MANIFEST, ENVIRONMENT):
                    continue
                target = _safe_target(dest, info.filename)
                if not info.filename.endswith(STORE_SUFFIX):
                    _extract(zf, info, target)
                    continue
                inner_path = Path(scratch) / "store.zip"
                _extract(zf, info, inner_path)
                store_dir = target.with_name(target.name.removesuffix(".zip"))
                with zipfile.ZipFile(inner_path) as inner:
                    for entry in inner.infolist():
                        _extract(inner, entry, _safe_target(store_dir, entry.filename))
                inner_path.unlink()
                log.info("restored store %s", store_dir)
    return experiment_dir
