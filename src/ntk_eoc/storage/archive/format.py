"""What an ntk-eoc archive may hold: its manifest, member names, entry types and size caps.

The rules (:mod:`.archive` applies them to the outer zip and to every store zip inside it):

- ``MANIFEST.json`` = ``{"format": 2, "experiment": E, "roots": [...], "members": {name: {"size",
  "sha256"[, "inner_size"]}}}``. ``E`` is a plain name (:func:`is_plain_name`). ``roots`` are the
  folders members may live in: plain relative paths ``results/<name>[/<name>...]`` that include
  ``results/E`` (an archive without ``roots``, format 1, has just that one). ``inner_size`` is the
  total uncompressed size of a store zip's entries.
- Members: ``MANIFEST.json``, ``environment.json`` and files under a root, each listed in the
  manifest, each at most once. Directory entries (which ``zip -r`` adds) are accepted and ignored
  when they lie on the way to or inside a root.
- Names are relative POSIX paths: no leading ``/``, no drive letter, no backslash, no ``..``, ``.``
  or empty component, printable characters only. Entries are regular files or directories: a
  symlink, device, FIFO or socket entry (zip external attributes) is refused.
- Sizes: a member's uncompressed size must equal the manifest's, and is read through a counter that
  stops at the recorded size + 1 byte; a store zip's entries together may not exceed its
  ``inner_size`` (or, in format 1, the store zip's own size: pack writes them uncompressed).
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

__all__ = [
    "ENVIRONMENT",
    "FORMAT",
    "MANIFEST",
    "STORE_SUFFIX",
    "ArchiveError",
    "ArchiveManifest",
    "Member",
    "copy_capped",
    "entry_kind",
    "is_plain_name",
    "name_problem",
    "parse_manifest",
    "show",
]

MANIFEST = "MANIFEST.json"
ENVIRONMENT = "environment.json"
STORE_SUFFIX = ".zarr.zip"
RESULTS = "results"
FORMAT = 2
# A manifest entry is ~150 bytes: 64 MiB holds ~400,000 members, far above any experiment.
MAX_MANIFEST_BYTES = 64 << 20
READ_BLOCK = 1 << 20
_PLAIN = re.compile(r"[A-Za-z0-9_+=,.-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")
# What reading a crafted or damaged zip member can raise besides OSError.
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError, RuntimeError)


class ArchiveError(RuntimeError):
    """An archive cannot be written, read or restored (one line, naming the archive or member)."""


def is_plain_name(name: object) -> bool:
    """A non-empty name of [A-Za-z0-9_+=,.-] not starting with '.' (so not '.', '..' or hidden)."""
    return isinstance(name, str) and bool(_PLAIN.fullmatch(name)) and not name.startswith(".")


def show(name: str) -> str:
    """A member name for a one-line message: as is if printable, else its escaped repr."""
    return name if name.isprintable() else ascii(name)


def name_problem(name: str) -> str | None:
    """Why a zip entry name is not a safe relative path (module docstring), or None."""
    body = name[:-1] if name.endswith("/") else name
    if not body:
        return "empty name"
    if "\\" in name or not name.isprintable():
        return "backslash or non-printable character in the name"
    if body.startswith("/") or _DRIVE.match(body):
        return "absolute path"
    parts = body.split("/")
    if ".." in parts:
        return "'..' in the path"
    if any(part in ("", ".") for part in parts):
        return "empty or '.' component in the path"
    return None


def entry_kind(info: zipfile.ZipInfo) -> str:
    """'file', 'dir', 'symlink' or 'special' (device, FIFO, socket) from the entry's name and mode."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if info.filename.endswith("/"):
        return "dir" if kind in (0, stat.S_IFDIR) else "special"
    if kind in (0, stat.S_IFREG):
        return "file"
    return "symlink" if kind == stat.S_IFLNK else "special"


def copy_capped(src: IO[bytes], dst: IO[bytes] | None, limit: int, digest: Any | None = None) -> int:
    """Copy at most ``limit`` + 1 bytes of ``src`` to ``dst`` (None: discard), updating ``digest``;
    returns the bytes read, so a result > ``limit`` means the source is longer than allowed."""
    count = 0
    while count <= limit:
        block = src.read(min(READ_BLOCK, limit + 1 - count))
        if not block:
            break
        count += len(block)
        if digest is not None:
            digest.update(block)
        if dst is not None:
            dst.write(block)
    return count


@dataclass(frozen=True)
class Member:
    """A manifest entry: uncompressed size, sha256, and for a store zip its entries' total size."""

    size: int
    sha256: str
    inner_size: int | None = None


@dataclass(frozen=True)
class ArchiveManifest:
    """The validated ``MANIFEST.json``."""

    experiment: str
    roots: tuple[str, ...]
    members: Mapping[str, Member]

    def allows(self, name: str) -> bool:
        """Whether a file member may be at ``name`` (``environment.json`` or under a root)."""
        return name == ENVIRONMENT or any(name.startswith(root + "/") for root in self.roots)

    def allows_dir(self, name: str) -> bool:
        """Whether a directory entry ``name`` ('/'-terminated) lies on the way to or inside a root."""
        return any(name.startswith(root + "/") or (root + "/").startswith(name) for root in self.roots)


def _count(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ArchiveError(f"{MANIFEST}: {key} must be an integer >= 0, got {value!r}")
    return value


def _roots(doc: Mapping[str, Any], experiment: str) -> tuple[str, ...]:
    home = f"{RESULTS}/{experiment}"
    roots = doc.get("roots", [home])
    if not isinstance(roots, list) or home not in roots or len(set(roots)) != len(roots):
        raise ArchiveError(f"{MANIFEST}: roots must be a list of distinct folders including {home!r}, got {roots!r}")
    for root in roots:
        parts = root.split("/") if isinstance(root, str) else []
        if len(parts) < 2 or parts[0] != RESULTS or not all(is_plain_name(p) for p in parts[1:]):
            raise ArchiveError(f"{MANIFEST}: root {root!r} is not a plain relative path results/<name>[/<name>...]")
    return tuple(roots)


def _member(name: object, entry: object, manifest: ArchiveManifest) -> Member:
    if not isinstance(name, str) or name_problem(name) or not manifest.allows(name):
        shown = show(name) if isinstance(name, str) else repr(name)
        raise ArchiveError(f"{MANIFEST}: member {shown} is not a safe path under {', '.join(manifest.roots)}")
    if not isinstance(entry, dict) or not _SHA256.fullmatch(str(entry.get("sha256"))):
        raise ArchiveError(f"{MANIFEST}: member {show(name)} needs a size and a lowercase hex sha256")
    inner = entry.get("inner_size")
    if inner is not None and not name.endswith(STORE_SUFFIX):
        raise ArchiveError(f"{MANIFEST}: member {show(name)} is not a store zip but has an inner_size")
    size = _count(f"{name} size", entry.get("size"))
    return Member(size, entry["sha256"], None if inner is None else _count(f"{name} inner_size", inner))


def parse_manifest(raw: bytes) -> ArchiveManifest:
    """The validated manifest (module docstring); ArchiveError naming the first problem."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ArchiveError(f"{MANIFEST}: not JSON: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("members"), dict):
        raise ArchiveError(f"{MANIFEST}: must be an object with a members object")
    if doc.get("format", 1) not in (1, FORMAT):
        raise ArchiveError(f"{MANIFEST}: format {doc.get('format')!r} not understood (1 or {FORMAT})")
    experiment = doc.get("experiment")
    if not is_plain_name(experiment):
        raise ArchiveError(
            f"{MANIFEST}: experiment {experiment!r} is not a plain name ([A-Za-z0-9_+=,.-], no leading '.')"
        )
    manifest = ArchiveManifest(experiment, _roots(doc, experiment), {})
    members = {name: _member(name, entry, manifest) for name, entry in doc["members"].items()}
    return ArchiveManifest(manifest.experiment, manifest.roots, members)


def read_manifest(zf: zipfile.ZipFile) -> ArchiveManifest:
    """The archive's manifest, read with a size cap; ArchiveError if missing, too large or invalid."""
    infos = [info for info in zf.infolist() if info.filename == MANIFEST]
    if not infos:
        raise ArchiveError(f"{MANIFEST}: missing")
    if len(infos) > 1 or infos[0].file_size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{MANIFEST}: duplicated or larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        with zf.open(infos[0]) as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
    except ZIP_ERRORS as err:
        raise ArchiveError(f"{MANIFEST}: unreadable: {err}") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{MANIFEST}: larger than {MAX_MANIFEST_BYTES} bytes")
    return parse_manifest(raw)


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
