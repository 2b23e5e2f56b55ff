"""How :func:`ntk_eoc.storage.store.write_store` writes a store without ever exposing a partial one.

1. :func:`remove_stale_temporaries` removes ``.<name>.tmp-*`` siblings that killed writers of the same
   store left (a store has one writer at a time: Snakemake's lock and job scheduling guarantee it).
2. The store is written into a fresh temporary sibling ``.<name>.tmp-<id>`` through a
   :class:`GuardedStore`: zarr writes chunks concurrently, and when one write fails (a full disk)
   the others are still in flight. :meth:`Writes.stop` refuses new writes and waits for those in
   flight, so the temporary can then be removed for good instead of being recreated behind our back.
3. :func:`move_into_place` renames it to the final name (an existing store is first renamed to a
   temporary name, then removed).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from pathlib import Path

from zarr.abc.store import Store
from zarr.core.buffer import Buffer
from zarr.storage import LocalStore, WrapperStore

from .integrity import TEMP_MARK, StoreError

__all__ = ["GuardedStore", "Writes", "move_into_place", "remove_stale_temporaries", "temporary_path"]

log = logging.getLogger(__name__)
# How long stop() waits for writes in flight: far above one chunk write, finite if a filesystem hangs.
DRAIN_TIMEOUT_S = 120.0


def temporary_path(path: Path) -> Path:
    """A fresh temporary sibling of ``path``: ``.<name>.tmp-<id>``."""
    return path.with_name(f".{path.name}{TEMP_MARK}{uuid.uuid4().hex[:12]}")


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries ``.<name>.tmp-*`` that interrupted writes of the store ``path`` left;
    returns them."""
    path = Path(path)
    prefix = f".{path.name}{TEMP_MARK}"
    stale = sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix)) if path.parent.is_dir() else []
    for old in stale:
        log.warning("removing %s, left by an interrupted write of %s", old, path)
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    return stale


def move_into_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; an existing store is first renamed to a temporary name (and back if
    the rename fails), then removed."""
    if not path.exists():
        os.replace(tmp, path)
        return
    old = temporary_path(path)
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


class Writes:
    """Writes in flight through one :class:`GuardedStore`; :meth:`stop` ends them."""

    def __init__(self, label: str) -> None:
        self._label, self._done = label, threading.Condition()
        self._active, self._stopped = 0, False

    def begin(self) -> None:
        """Count one write in; StoreError once stopped (the write is refused, nothing is written)."""
        with self._done:
            if self._stopped:
                raise StoreError(f"write_store {self._label}: write abandoned after an earlier error")
            self._active += 1

    def end(self) -> None:
        """Count one write out."""
        with self._done:
            self._active -= 1
            self._done.notify_all()

    def stop(self) -> None:
        """Refuse further writes and wait until none is in flight."""
        with self._done:
            self._stopped = True
            if not self._done.wait_for(lambda: self._active == 0, timeout=DRAIN_TIMEOUT_S):
                log.error("write_store %s: %d writes still in flight", self._label, self._active)


class GuardedStore(WrapperStore[Store]):
    """A writable local store whose writes are counted by :class:`Writes` and refused after ``stop()``."""

    def __init__(self, store: Store, writes: Writes) -> None:
        super().__init__(store)
        self.writes = writes

    @classmethod
    def at(cls, path: Path) -> GuardedStore:
        """A guarded store writing into the directory ``path``."""
        return cls(LocalStore(path), Writes(str(path)))

    def _with_store(self, store: Store) -> GuardedStore:
        return type(self)(store, self.writes)

    async def set(self, key: str, value: Buffer) -> None:
        self.writes.begin()
        try:
            await self._store.set(key, value)
        finally:
            self.writes.end()

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self.writes.begin()
        try:
            await self._store.set_if_not_exists(key, value)
        finally:
            self.writes.end()
