"""The manifest of a view's files: ``results/<view>/MANIFEST.json`` lists the configs, figures and tables of
the view with the size and sha256 of each, written last by the job that writes the view's tables (stage
figures or min_eigen_summary), atomically.

``ntk-eoc verify`` and ``ntk-eoc summarize`` check it: a listed file that is missing, edited or damaged is an
error naming it, so an edited ``claims.csv`` is never summarized as a result. Files the manifest does not
list (a figure of an earlier version of the view) are not read by ``summarize``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .integrity import file_sha256

__all__ = ["FORMAT", "MANIFEST", "ViewError", "find_views", "listed", "view_problems", "write_view_manifest"]

MANIFEST = "MANIFEST.json"
FORMAT = 1


class ViewError(ValueError):
    """A view's files do not match its manifest; the message names the file and the problem."""


def write_view_manifest(
    path: str | os.PathLike[str],
    files: Iterable[str | os.PathLike[str]],
    stage: str,
    settings: dict[str, Any] | None = None,
) -> Path:
    """Write the manifest ``path`` (``<view>/MANIFEST.json``) listing ``files`` (each under the view folder)
    with their size and sha256, and the view's ``settings`` (experiment, overrides, sweep: a view given a
    name is not rerun with others, :class:`ntk_eoc.pipeline.plan.Plan`); written under a temporary name and
    renamed into place."""
    path = Path(path)
    view = path.parent.resolve()
    entries = {}
    for file in sorted({Path(f).resolve() for f in files}):
        rel = file.relative_to(view).as_posix()
        entries[rel] = {"size": file.stat().st_size, "sha256": file_sha256(file)}
    doc = {"format": FORMAT, "stage": stage, "settings": settings, "files": entries}
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read(view: Path) -> dict[str, dict]:
    path = view / MANIFEST
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ViewError(f"{path}: missing (the view's tables and figures cannot be checked; rerun the view)") from None
    except (OSError, ValueError) as err:
        raise ViewError(f"{path}: not a readable manifest: {err}") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if doc.get("format") != FORMAT or not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("size"), int) and isinstance(v.get("sha256"), str)
        for v in files.values()
    ):  # fmt: skip
        raise ViewError(f"{path}: not a manifest of format {FORMAT}")
    return files


def listed(view: str | os.PathLike[str]) -> list[str]:
    """The files (relative paths) the view's manifest lists; ViewError when it is missing or unreadable."""
    return sorted(_read(Path(view)))


def view_problems(view: str | os.PathLike[str], only: Iterable[str] | None = None) -> list[str]:
    """One line per listed file of ``view`` that is missing, of another size or another sha256 (or per
    problem of the manifest itself); ``only``: check just these relative paths (those listed)."""
    view = Path(view)
    try:
        files = _read(view)
    except ViewError as err:
        return [str(err)]
    wanted = files if only is None else {k: v for k, v in files.items() if k in set(only)}
    problems = []
    for rel, entry in sorted(wanted.items()):
        path = view / rel
        if path.is_symlink() or not path.is_file():
            problems.append(f"{path}: listed in {MANIFEST} but missing")
        elif path.stat().st_size != entry["size"] or file_sha256(path) != entry["sha256"]:
            problems.append(f"{path}: differs from {view / MANIFEST} (edited or damaged; rerun the view's last job)")
    return problems


def _is_view(folder: Path) -> bool:
    return (folder / MANIFEST).is_file() or (folder / "tables").is_dir()


def find_views(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` when it is a view folder (it has a manifest or a ``tables/`` folder), else the view folders
    directly in it (``results/<view>``)."""
    path = Path(path)
    if not path.is_dir():
        return []
    if _is_view(path):
        return [path]
    return sorted(child for child in path.iterdir() if child.is_dir() and not child.is_symlink() and _is_view(child))
