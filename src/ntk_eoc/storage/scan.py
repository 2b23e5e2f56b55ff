"""Every store under a folder, verified; bad ones moved aside so that Snakemake recomputes them.

``ntk-eoc verify <store or folder> [--full] [--repair]`` (:func:`verify_tree`):

- finds every store: a directory holding a ``zarr.json`` or named ``*.zarr``, not descending into
  stores, and skipping hidden entries (``.snakemake/``, temporaries ``.<name>.tmp-*``, stores already
  moved aside ``.<name>.bad-*``);
- verifies each (:func:`ntk_eoc.storage.integrity.store_problems`; ``--full`` also hashes every chunk)
  and reports one line per bad store, naming the array and the chunk;
- with ``--repair`` moves each bad store aside: ``<dir>/<name>`` is renamed (one rename in the same
  folder; nothing is deleted or rewritten) to ``<dir>/.<name>.bad-<UTC time>``. Its output then
  being missing, a plain ``snakemake`` run reruns the job that writes it (no ``--rerun-incomplete``
  needed: the output is missing, not incomplete) and, because the rewritten store is newer than
  every output made from it, every job downstream of it. The moved copy is kept for inspection;
  verify, ``open_store`` and archive packing ignore it; delete it when done.

An incomplete store (no completion mark, or written by an older ntk-eoc without an integrity
manifest) counts as bad: ``open_store`` refuses it, so the stages could not read it anyway.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .integrity import METADATA_FILE, QUARANTINE_MARK, StoreError, store_problems

__all__ = ["find_stores", "quarantine", "verify_tree"]

STORE_SUFFIX = ".zarr"


def _is_store(path: Path) -> bool:
    named = path.name.endswith(STORE_SUFFIX) or (path / METADATA_FILE).is_file()
    return named and path.is_dir() and not path.is_symlink()


def _walk(folder: Path) -> Iterator[Path]:
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if _is_store(entry):
            yield entry
        else:
            yield from _walk(entry)


def find_stores(path: str | os.PathLike[str]) -> list[Path]:
    """The store ``path`` itself, or every store under the folder ``path`` (module docstring), sorted."""
    root = Path(path)
    if not root.exists():
        raise StoreError(f"{root} does not exist")
    if _is_store(root):
        return [root]
    if not root.is_dir():
        raise StoreError(f"{root} is neither a store nor a folder")
    return list(_walk(root))


def quarantine(path: str | os.PathLike[str]) -> Path:
    """Rename the store ``path`` to the hidden sibling ``.<name>.bad-<UTC time>``; returns the new path."""
    path = Path(path)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f".{path.name}{QUARANTINE_MARK}{stamp}")
    os.rename(path, target)
    return target


def _one_line(problems: list[StoreError]) -> str:
    first = " ".join(str(problems[0]).split())
    return first + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else "")


def verify_tree(
    path: str | os.PathLike[str], full: bool = False, repair: bool = False, report: Callable[[str], None] = print
) -> tuple[int, int]:
    """Verify every store at or under ``path``; returns (stores checked, bad stores).

    Calls ``report`` with one line per bad store, and with ``repair`` one more saying where it was moved
    (:func:`quarantine`; module docstring).
    """
    stores = find_stores(path)
    bad = 0
    for store in stores:
        problems = store_problems(store, full=full)
        if not problems:
            continue
        bad += 1
        report(_one_line(problems))
        if repair:
            moved = quarantine(store)
            report(f"{store}: moved to {moved}; snakemake will rewrite it and every output made from it")
    return len(stores), bad
