"""Every store under a folder, verified; bad ones moved aside so that Snakemake recomputes them.

``ntk-eoc verify <store or folder> [--full] [--repair]`` (:func:`verify_tree`):

- finds every store: a directory holding a ``zarr.json`` or named ``*.zarr``, not descending into
  stores, and skipping hidden entries (``.snakemake/``, temporaries ``.<name>.tmp-*``, stores already
  moved aside ``.<name>.bad-*``);
- verifies each (:func:`ntk_eoc.storage.integrity.store_problems`; ``--full`` also hashes every chunk)
  and reports one line per bad store, naming the array and the chunk;
- with ``--repair`` (which implies ``--full``: a repair acts on everything a full check finds) moves
  each bad store aside: ``<dir>/<name>`` is renamed (one rename in the same folder; nothing is
  deleted or rewritten) to ``<dir>/.<name>.bad-<UTC time>``. The moved copy is kept for inspection;
  verify, ``open_store`` and archive packing ignore it; delete it when done.

What Snakemake then does (checked with Snakemake 9.27): the store's path is missing, so

- a job whose output is missing or that failed reading the bad store (its output is then missing
  too) is rerun by a plain ``snakemake`` run, and the missing store it needs is rewritten first;
- but a missing store whose consumers all finished and are up to date is an intermediate file
  Snakemake does not need: plain ``snakemake`` says "Nothing to be done" and rewrites it only when
  some job needs it again. Those consumers were made before the damage (a job reading a damaged
  store fails), so their results stand. To rewrite the store and every output made from it now, run
  ``snakemake --forcerun <store path> ...`` (the line printed for each moved store says so).

No ``--rerun-incomplete`` is involved: ntk-eoc never writes into Snakemake's ``.snakemake/`` records.

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

    Calls ``report`` with one line per bad store, and with ``repair`` (implies ``full``) one more saying
    where it was moved (:func:`quarantine`) and the snakemake command that rewrites it (module docstring).
    """
    stores = find_stores(path)
    bad = 0
    for store in stores:
        problems = store_problems(store, full=full or repair)
        if not problems:
            continue
        bad += 1
        report(_one_line(problems))
        if repair:
            moved = quarantine(store)
            report(f"{store}: moved to {moved}; `snakemake --forcerun {store}` rewrites it and everything made from it")
    return len(stores), bad
