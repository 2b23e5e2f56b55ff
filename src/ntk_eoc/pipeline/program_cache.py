"""The persistent compilation cache of the sampling jobs, with every entry bound to its key.

JAX files a compiled program under a key that hashes everything the program depends on (its HLO, the
compile options, the devices, the jax/jaxlib versions) but does not check, when it loads an entry, that
the entry was written for that key: two valid entries swapped (or copied between cache folders by hand)
load as each other's program and give another network's kernels with nothing to notice. Each entry is
therefore written here as

    MAGIC | sha256(key) | sha256(payload) | payload

and read back only when both hashes match; any other entry (damaged, renamed, swapped, or written by a
plain JAX cache) is removed and the program recompiled, so a run ends with correct kernels. What this
does not protect against: an entry forged with valid hashes by someone who can write to the cache
folder. Like JAX's own cache it is trusted as code (README, "Compilation cache"); keep it private.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

__all__ = ["MAGIC", "KeyBoundCache", "install"]

MAGIC = b"ntk-eoc program cache 1\n"
_HASH = 32  # bytes of a sha256 digest
log = logging.getLogger("ntk_eoc.pipeline")


class KeyBoundCache:
    """A JAX cache (``get(key) -> bytes | None``, ``put(key, bytes)``) whose entries carry the hashes of
    their key and payload; ``base`` is JAX's file cache (LRU eviction, file locks) in ``path``."""

    def __init__(self, base, path: Path) -> None:
        self._base, self._path = base, path
        self.rejected: list[str] = []

    def get(self, key: str) -> bytes | None:
        raw = self._base.get(key)
        if raw is None:
            return None
        head = len(MAGIC)
        key_hash, payload_hash = raw[head : head + _HASH], raw[head + _HASH : head + 2 * _HASH]
        payload = raw[head + 2 * _HASH :]
        if raw[:head] == MAGIC and key_hash == _digest(key.encode()) and payload_hash == _digest(payload):
            return payload
        entry = self._path / f"{key}-cache"
        reason = "not written by this cache" if raw[:head] != MAGIC else (
            "written for another key" if key_hash != _digest(key.encode()) else "damaged"
        )  # fmt: skip
        log.warning("compilation cache entry %s is %s: removed, the program is recompiled", entry, reason)
        self.rejected.append(key)
        entry.unlink(missing_ok=True)
        return None

    def put(self, key: str, value: bytes) -> None:
        self._base.put(key, MAGIC + _digest(key.encode()) + _digest(value) + value)

    def clear(self) -> None:
        """Nothing is held in memory (the interface of JAX's caches)."""


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def install() -> str:
    """Put a :class:`KeyBoundCache` in front of JAX's persistent cache when ``jax_compilation_cache_dir`` is
    set (the workflow sets it from ``jax_cache_dir``), before the first compile; returns a line for the log.

    The hook is JAX's internal cache slot (``jax._src.compilation_cache._cache``); where it is missing or
    already filled, the persistent cache is turned off rather than used unchecked."""
    import jax

    path = jax.config.jax_compilation_cache_dir
    if not path:
        return "off"
    try:
        from jax._src import compilation_cache as cc

        if getattr(cc, "_cache", "missing") is not None or not hasattr(cc, "_cache_initialized"):
            raise AttributeError("the cache slot is missing or already filled")
        base, where = cc.get_file_cache(path)
        cache = KeyBoundCache(base, Path(where))
        with cc._cache_initialized_mutex:
            cc._cache, cc._cache_initialized = cache, True
    except (ImportError, AttributeError, TypeError) as err:
        jax.config.update("jax_enable_compilation_cache", False)
        return f"off (this JAX has no hook to check its entries: {err})"
    return f"{path} (entries bound to their keys)"
