"""The two passes of archive verification: structure (nothing read) and data (capped, hashed reads).

:func:`check_structure` looks only at the zip's directory and the manifest: names, entry types,
duplicates, roots, listing. :func:`check_data` reads every member through a size cap and a sha256,
opens every store zip and checks its entries the same way, and, when extracting, writes each file
with exclusive creation (a collision is an error, never an overwrite) and checks every restored store
against its integrity manifest. Rules: :mod:`.archive_format`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ..integrity import MANIFEST_FILE, store_problems
from .format import (
    ENVIRONMENT,
    MANIFEST,
    STORE_SUFFIX,
    ZIP_ERRORS,
    ArchiveManifest,
    Member,
    copy_capped,
    entry_kind,
    name_problem,
    show,
)

__all__ = ["check_data", "check_structure", "targets"]

log = logging.getLogger(__name__)


def targets(manifest: ArchiveManifest) -> list[str]:
    """The relative paths restore creates: each file member, and each store zip's store directory."""
    return [
        name.removesuffix(".zip") if name.endswith(STORE_SUFFIX) else name
        for name in manifest.members
        if name != ENVIRONMENT
    ]


def _entry_problem(info: zipfile.ZipInfo, seen: set[str]) -> str | None:
    """Duplicate, unsafe name, or entry type other than file/directory."""
    if info.filename in seen:
        return "duplicate member"
    seen.add(info.filename)
    problem = name_problem(info.filename)
    if problem is None and entry_kind(info) in ("symlink", "special"):
        problem = f"{entry_kind(info)} entry refused: only regular files and directories"
    return problem


def _nested(manifest: ArchiveManifest) -> list[str]:
    paths = sorted(targets(manifest))
    return [
        f"{show(inner)}: lies inside another member's path {show(outer)}"
        for outer, inner in itertools.pairwise(paths)
        if inner.startswith(outer + "/")
    ]


def check_structure(zf: zipfile.ZipFile, manifest: ArchiveManifest) -> list[str]:
    """Problems found from the zip directory and the manifest alone, one line each."""
    problems, seen = [], set()
    where = f"{MANIFEST}, {ENVIRONMENT} and " + ", ".join(f"{root}/" for root in manifest.roots)
    for info in zf.infolist():
        name = show(info.filename)
        problem = _entry_problem(info, seen)
        if problem is None and entry_kind(info) == "dir":
            problem = None if manifest.allows_dir(info.filename) else f"directory outside {where}"
        elif problem is None and info.filename != MANIFEST:
            if not manifest.allows(info.filename):
                problem = f"outside {where}"
            elif info.filename not in manifest.members:
                problem = f"not listed in {MANIFEST}"
        if problem:
            problems.append(f"{name}: {problem}")
    problems += [f"{show(name)}: missing" for name in manifest.members if name not in seen]
    return problems + _nested(manifest)


@contextlib.contextmanager
def _sink(target: Path | None) -> Iterator[IO[bytes] | None]:
    if target is None:
        yield None
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as fh:
        yield fh


def _set_mtime(target: Path | None, info: zipfile.ZipInfo) -> None:
    if target is not None:
        mtime = time.mktime((*info.date_time, 0, 0, -1))
        os.utime(target, (mtime, mtime))


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, record: Member, target: Path | None) -> str | None:
    """Read (and write to ``target``) one member, capped at its recorded size; its problem or None."""
    name = show(info.filename)
    if info.file_size != record.size:
        return f"{name}: uncompressed size {info.file_size} (zip header) != {record.size} recorded in {MANIFEST}"
    digest = hashlib.sha256()
    try:
        with zf.open(info) as src, _sink(target) as dst:
            count = copy_capped(src, dst, record.size, digest)
    except ZIP_ERRORS as err:
        return f"{name}: unreadable: {type(err).__name__}: {err}"
    if count != record.size:
        return f"{name}: {'more' if count > record.size else 'fewer'} than the {record.size} bytes recorded"
    if digest.hexdigest() != record.sha256:
        return f"{name}: sha256 differs from {MANIFEST}"
    _set_mtime(target, info)
    return None


def _inner_files(zin: zipfile.ZipFile, name: str) -> tuple[list[zipfile.ZipInfo], list[str]]:
    files, problems, seen = [], [], set()
    for info in zin.infolist():
        problem = _entry_problem(info, seen)
        if problem:
            problems.append(f"{name}: entry {show(info.filename)}: {problem}")
        elif entry_kind(info) == "file":
            files.append(info)
    return files, problems


def _extract_inner(zin: zipfile.ZipFile, files: list[zipfile.ZipInfo], cap: int, out: Path | None) -> int:
    """Copy every entry (to ``out``), never more than ``cap`` bytes in all; returns the bytes read."""
    total = 0
    for info in files:
        target = None if out is None else out.joinpath(*info.filename.split("/"))
        with zin.open(info) as src, _sink(target) as dst:
            total += copy_capped(src, dst, min(info.file_size, cap - total))
        _set_mtime(target, info)
        if total > cap:
            break
    return total


def _check_store_zip(path: Path, name: str, record: Member, out: Path | None) -> list[str]:
    """Entries of one store zip: safe names and types, total size within the recorded one (or, for
    format-1 archives, the zip's own size); extracted to ``out`` if given."""
    cap = record.size if record.inner_size is None else record.inner_size
    try:
        with zipfile.ZipFile(path) as zin:
            files, problems = _inner_files(zin, name)
            declared = sum(info.file_size for info in files)
            if problems or declared > cap:
                return problems or [f"{name}: entries declare {declared} bytes, more than the {cap} recorded"]
            total = _extract_inner(zin, files, cap, out)
    except ZIP_ERRORS as err:
        return [f"{name}: not a readable zip store ({type(err).__name__}: {err})"]
    if total > cap or (record.inner_size is not None and total != record.inner_size):
        return [f"{name}: entries hold {total} bytes, {cap} recorded"]
    return []


def _check_restored_store(store: Path, name: str) -> list[str]:
    if not (store / MANIFEST_FILE).is_file():
        log.warning("%s: store written without an integrity manifest; open_store will refuse it", name)
        return []
    return [f"{name}: {err}" for err in store_problems(store, full=True, label=name.removesuffix(".zip"))]


def check_data(zf: zipfile.ZipFile, manifest: ArchiveManifest, work: Path, extract: bool) -> list[str]:
    """Read every member through its cap and digest; with ``extract``, write the results under ``work``
    (``work/<member path>``, store zips as store directories). Call after :func:`check_structure`."""
    problems: list[str] = []
    for k, info in enumerate(zf.infolist()):
        name = info.filename
        if name == MANIFEST or entry_kind(info) == "dir":
            continue
        record = manifest.members[name]
        if not name.endswith(STORE_SUFFIX):
            target = work.joinpath(*name.split("/")) if extract and name != ENVIRONMENT else None
            problems += filter(None, [_copy_member(zf, info, record, target)])
            continue
        inner = work / f".store-{k}.zip"
        problem = _copy_member(zf, info, record, inner)
        if problem is None:
            store = work.joinpath(*name.removesuffix(".zip").split("/")) if extract else None
            found = _check_store_zip(inner, show(name), record, store)
            problems += found or (_check_restored_store(store, show(name)) if store is not None else [])
        problems += [problem] if problem else []
        inner.unlink(missing_ok=True)
    return problems
